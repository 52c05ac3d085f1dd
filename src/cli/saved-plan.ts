// A plan saved by `plan --out FILE` and applied by `apply FILE`. It carries everything the plan
// was made from (the policy file's content, --prune, --overlap, the server and a digest of what
// that server held) and the changes that were reviewed. Nothing in it is believed: apply plans
// again from those inputs and refuses unless the server is as it was and the result is exactly
// the changes saved. The digest of the whole file, printed by both, ties the review to the apply.
import { createHash } from 'node:crypto';
import { parseDuration } from '../platform/iso-duration';
import { CliError, ExitCode } from './errors';
import type { Change } from './change';
import { readLimited, writePrivate } from './local-files';
import { POLICY_FILE_LIMIT_MB } from './policy-file';
import type { ServerState } from './server-state';

/** A change as plan shows it in JSON and a saved plan holds it. */
export interface JsonChange {
  op: Change['op'];
  kind: Change['kind'];
  name: string;
  fields: Change['fields'];
  /** Replacements: how long the replaced token keeps working (what --overlap decides). */
  overlap?: string;
  impact: Change['impact'] | null;
}

export interface SavedPlan {
  kind: 'latchkey-plan';
  version: 2;
  /** The policy file plan read: its name (for messages) and its whole content (what is applied). */
  file: { path: string; content: string };
  server: string;
  serverDigest: string;
  prune: boolean;
  overlap: string;
  createdAt: string;
  changes: JsonChange[];
}

export const jsonChange = (c: Change, overlap: string): JsonChange => ({
  op: c.op,
  kind: c.kind,
  name: c.name,
  fields: c.fields,
  ...(c.op === 'replace' ? { overlap } : {}),
  impact: c.impact ?? null,
});

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** What the server held, without what moves on its own (a token's last use). */
export function serverDigest(state: ServerState): string {
  const tokens = state.tokens.map(({ lastUsedAt: _used, ...t }) => t).sort((a, b) => a.id.localeCompare(b.id));
  const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
  return sha256(
    JSON.stringify({
      ...state,
      tokens,
      scopes: byId(state.scopes),
      policies: byId(state.policies),
      roles: byId(state.roles),
      owners: byId(state.owners),
      credentials: byId(state.credentials),
      webhooks: byId(state.webhooks),
    }),
  );
}

/** Writes the plan (mode 0600); returns the digest of exactly what was written. */
export function writePlan(path: string, plan: SavedPlan): string {
  const text = `${JSON.stringify(plan, null, 2)}\n`;
  writePrivate(path, text);
  return `sha256:${sha256(text)}`;
}

// The policy file's content, escaped as JSON, with the changes beside it.
const PLAN_LIMIT_MB = 4 * POLICY_FILE_LIMIT_MB;

/** The plan and the digest of exactly what was read; refused unless every field is what plan writes. */
export function readPlan(path: string): { plan: SavedPlan; digest: string } {
  const text = readLimited(path, PLAN_LIMIT_MB, 'a saved plan');
  const refuse = (why: string) =>
    new CliError(
      `${path}: not a saved plan of this version of latchkey (${why}): make one with plan --out`,
      ExitCode.USAGE,
    );
  let plan: SavedPlan;
  try {
    plan = JSON.parse(text) as SavedPlan;
  } catch (err) {
    throw refuse((err as Error).message);
  }
  if (plan?.kind !== 'latchkey-plan' || plan.version !== 2)
    throw refuse(`kind ${JSON.stringify(plan?.kind)}, version ${JSON.stringify(plan?.version)}`);
  if (typeof plan.file?.path !== 'string' || typeof plan.file.content !== 'string')
    throw refuse('no policy file content');
  if (
    typeof plan.server !== 'string' ||
    typeof plan.serverDigest !== 'string' ||
    typeof plan.prune !== 'boolean' ||
    !Array.isArray(plan.changes)
  )
    throw refuse('a field is missing');
  try {
    parseDuration(plan.overlap);
  } catch {
    throw refuse(`overlap ${JSON.stringify(plan.overlap)} is not a duration`);
  }
  return { plan, digest: `sha256:${sha256(text)}` };
}

/** The first change where what plan gives now differs from what was saved (the impact aside: its window moves with the clock). */
export function firstDifference(saved: JsonChange[], now: JsonChange[]): string | null {
  const comparable = (c: JsonChange | undefined) => (c ? JSON.stringify({ ...c, impact: undefined }) : undefined);
  for (let i = 0; i < Math.max(saved.length, now.length); i++) {
    if (comparable(saved[i]) === comparable(now[i])) continue;
    const describe = (c: JsonChange | undefined) => (c ? `${c.op} ${c.kind} ${JSON.stringify(c.name)}` : 'nothing');
    return `change ${i + 1}: the plan says ${describe(saved[i])}, its inputs give ${describe(now[i])}${describe(saved[i]) === describe(now[i]) ? ' with other fields' : ''}`;
  }
  return null;
}
