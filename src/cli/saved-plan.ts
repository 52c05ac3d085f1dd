// A plan saved by `plan --out FILE` and applied by `apply FILE`: the policy file's hash, the
// server it was made against and a digest of what that server held. `apply` refuses a saved plan
// when the file or the server has moved since, so what is applied is what was reviewed.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { CliError, ExitCode } from './errors';
import type { ServerState } from './server-state';

export interface SavedPlan {
  kind: 'latchkey-plan';
  version: 1;
  /** The policy file, as given to plan. */
  file: string;
  fileSha256: string;
  server: string;
  serverDigest: string;
  prune: boolean;
  /** --overlap for replaced tokens (saved plans made before it existed: the default, PT1H). */
  overlap?: string;
  createdAt: string;
  /** What plan showed, for people reviewing the file; apply plans again and compares. */
  changes: unknown[];
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

export const fileSha = (path: string) => sha256(readFileSync(path));

/** What the server held, without what moves on its own (a token's last use). */
export function serverDigest(state: ServerState): string {
  const tokens = state.tokens.map(({ lastUsedAt: _used, ...t }) => t).sort((a, b) => a.id.localeCompare(b.id));
  const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
  return sha256(JSON.stringify({ ...state, tokens, scopes: byId(state.scopes), policies: byId(state.policies), roles: byId(state.roles), owners: byId(state.owners), credentials: byId(state.credentials), webhooks: byId(state.webhooks) }));
}

export function writePlan(path: string, plan: SavedPlan): void {
  writeFileSync(path, `${JSON.stringify(plan, null, 2)}\n`, { mode: 0o600 });
}

export function readPlan(path: string): SavedPlan {
  let plan: SavedPlan;
  try {
    plan = JSON.parse(readFileSync(path, 'utf8')) as SavedPlan;
  } catch (err) {
    throw new CliError(`${path}: not a saved plan (${(err as Error).message})`, ExitCode.USAGE);
  }
  if (plan?.kind !== 'latchkey-plan' || plan.version !== 1) throw new CliError(`${path}: not a saved plan of this version of latchkey (make one with plan --out)`, ExitCode.USAGE);
  return plan;
}
