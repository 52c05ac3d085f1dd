// What `latchkey plan` and `apply` do once their arguments are parsed. Required by
// commands/policy-as-code.ts when one of them runs: it loads YAML, the JSON Schema checker and the
// diff, which the rest of the command line (and --help) does without.
import { closeSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDuration } from '../platform/iso-duration';
import type { ApplyState, Change, Impact } from './change';
import { confirm, contextOf, type Ctx } from './context';
import { CliError, ExitCode, usage } from './errors';
import { planChanges } from './file-diff';
import { openPrivateAppend } from './local-files';
import type { Output } from './output';
import { loadPolicyFile, parsePolicyFile, type PolicyFile } from './policy-file';
import { firstDifference, jsonChange, readPlan, serverDigest, writePlan } from './saved-plan';
import { readServer } from './server-state';

const SIGN = { create: '+', update: '~', delete: '-', replace: '-/+' } as const;
const COLOUR = { create: '32', update: '33', delete: '31', replace: '35' } as const;

const show = (v: unknown) => (v === null || v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));
const impactLine = (i: Impact) =>
  `rotation plan within ${i.within}: +${i.addedCount} / -${i.removedCount} scheduled action(s) on ${i.affectedTokens} of ${i.tokens} token(s)`;

/** One change as plan shows it; `overlap` is the --overlap the plan is made with. */
function describe(out: Output, c: Change, overlap: string): void {
  out.line(
    out.paint(
      COLOUR[c.op],
      `  ${SIGN[c.op].padEnd(3)} ${c.kind} ${c.name}${c.op === 'replace' ? ' (forces replacement)' : ''}`,
    ),
  );
  if (c.op === 'update' || c.op === 'replace') {
    for (const f of c.fields)
      out.line(
        `        ${f.field}: ${show(f.before)} → ${show(f.after)}${f.forcesReplacement ? `   # forces replacement: ${f.forcesReplacement}` : ''}`,
      );
  }
  if (c.op === 'replace') {
    out.line(
      `        a new token is issued; ${parseDuration(overlap) > 0 ? `the old one keeps working for ${overlap} (--overlap), then expires` : 'the old one is revoked at once (--overlap 0s)'}`,
    );
  }
  if (c.impact) out.line(`        ${impactLine(c.impact)}`);
}

const summary = (changes: Change[]) => {
  const n = (op: Change['op']) => changes.filter((c) => c.op === op).length;
  return { create: n('create'), update: n('update'), replace: n('replace'), delete: n('delete') };
};

async function planFor(
  ctx: Ctx,
  file: PolicyFile,
  opts: { prune: boolean; overlapS: number },
): Promise<{ changes: Change[]; digest: string }> {
  const server = await readServer(ctx.client, file);
  return { changes: await planChanges(ctx.client, file, server, opts), digest: serverDigest(server) };
}

/** plan and apply exit 1 on every error, as CI gates expect (0: in sync, 2: changes). */
async function gate(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof CliError) throw new CliError(err.message, ExitCode.SERVER, err.code);
    throw err;
  }
}

export interface PlanOptions {
  file: string;
  prune?: boolean;
  out?: string;
  overlap: string;
}

export interface ApplyOptions {
  file?: string;
  prune?: boolean;
  secretsFile?: string;
  yes?: boolean;
  overlap: string;
  digest?: string;
}

/** latchkey plan -f FILE */
export const plan = (o: PlanOptions, cmd: Command): Promise<void> =>
  gate(async () => {
    const ctx = contextOf(cmd);
    const file = loadPolicyFile(o.file);
    const { changes, digest } = await planFor(ctx, file, { prune: !!o.prune, overlapS: parseDuration(o.overlap) });
    const json = changes.map((c) => jsonChange(c, o.overlap));
    if (o.out) {
      const written = writePlan(o.out, {
        kind: 'latchkey-plan',
        version: 2,
        file: { path: o.file, content: file.text },
        server: ctx.client.url,
        serverDigest: digest,
        prune: !!o.prune,
        overlap: o.overlap,
        createdAt: new Date().toISOString(),
        changes: json,
      });
      ctx.out.note(
        `plan saved to ${o.out} (${written}): \`latchkey apply ${o.out}\` applies exactly it, unless the server changes first`,
      );
    }
    const counts = summary(changes);
    ctx.out.result(
      { file: o.file, server: ctx.client.url, inSync: changes.length === 0, summary: counts, changes: json },
      () => {
        if (changes.length === 0) {
          ctx.out.line(`${o.file}: no changes; ${ctx.client.url} matches the file`);
          return;
        }
        ctx.out.line(
          `${o.file} against ${ctx.client.url}: ${counts.create} to create, ${counts.update} to update, ${counts.replace} to replace, ${counts.delete} to delete`,
        );
        for (const c of changes) describe(ctx.out, c, o.overlap);
        if (!o.prune)
          ctx.out.note('(things on the server that the file does not declare are kept; --prune deletes them)');
      },
    );
    if (changes.length > 0) process.exitCode = ExitCode.CHANGES;
  });

/** latchkey apply -f FILE, or apply PLAN-FILE */
export const apply = (planFile: string | undefined, o: ApplyOptions, cmd: Command): Promise<void> =>
  gate(async () => {
    const ctx = contextOf(cmd);
    if (!planFile === !o.file)
      throw usage('apply takes a policy file (-f latchkey.yaml) or a saved plan (apply PLAN-FILE), not both');
    if (planFile && (o.prune || cmd.getOptionValueSource('overlap') === 'cli'))
      throw usage(`${planFile} is applied with the --prune and --overlap it was made with: plan again to change them`);
    if (o.digest && !planFile) throw usage('--digest is for a saved plan (apply PLAN-FILE --digest …)');
    let changes: Change[];
    let overlap = o.overlap;
    if (planFile) {
      ({ changes, overlap } = await replan(ctx, planFile, o.digest));
    } else {
      changes = (await planFor(ctx, loadPolicyFile(o.file!), { prune: !!o.prune, overlapS: parseDuration(overlap) }))
        .changes;
      if (changes.length > 0 && !o.yes) {
        if (!process.stdin.isTTY)
          throw usage(
            'refusing to apply without confirmation: pass --yes (stdin is not a terminal); `latchkey plan` shows what it would do',
          );
        for (const c of changes) describe(ctx.out, c, overlap);
        if (!(await confirm(`Apply these ${changes.length} change(s) to ${ctx.client.url}?`, 'apply'))) {
          ctx.out.note('nothing changed');
          return;
        }
      }
    }
    await applyChanges(ctx, planFile ?? o.file!, changes, overlap, o.secretsFile);
  });

/**
 * A saved plan's changes, planned again from what it carries: refused unless the server is as it
 * was and the changes are exactly those saved (so an edited prune, overlap or file changes nothing).
 * A saved plan was reviewed when it was made: it is applied without asking again, once its digest is shown.
 */
async function replan(
  ctx: Ctx,
  planFile: string,
  expected: string | undefined,
): Promise<{ changes: Change[]; overlap: string }> {
  const { plan, digest } = readPlan(planFile);
  if (expected && expected !== digest) throw usage(`${planFile} is ${digest}, not the ${expected} that was reviewed`);
  if (plan.server !== ctx.client.url) throw usage(`${planFile} was made against ${plan.server}, not ${ctx.client.url}`);
  const file = parsePolicyFile(plan.file.content, plan.file.path);
  const { changes, digest: now } = await planFor(ctx, file, {
    prune: plan.prune,
    overlapS: parseDuration(plan.overlap),
  });
  if (now !== plan.serverDigest) throw usage(`the server changed since ${planFile} was made: plan again and review it`);
  const differs = firstDifference(
    plan.changes,
    changes.map((c) => jsonChange(c, plan.overlap)),
  );
  if (differs)
    throw usage(
      `${planFile} does not hold the changes its own inputs give (${differs}): it was edited after plan wrote it; plan again and review it`,
    );
  ctx.out.note(
    `applying ${planFile} (${digest}): ${changes.length} change(s) to ${ctx.client.url}, made from ${plan.file.path} on ${plan.createdAt}`,
  );
  return { changes, overlap: plan.overlap };
}

/** Runs the changes in order, writing the secrets they issue to the secrets file, and says what it did. */
async function applyChanges(
  ctx: Ctx,
  source: string,
  changes: Change[],
  overlap: string,
  secretsFile: string | undefined,
): Promise<void> {
  const issues = changes.some((c) => c.issuesSecret);
  if (issues && !secretsFile && !process.stdout.isTTY) {
    throw new CliError(
      'this apply issues tokens or webhook signing secrets: pass --secrets-file PATH so they are not written to a log',
      ExitCode.USAGE,
    );
  }
  const st: ApplyState = {
    client: ctx.client,
    roleIds: new Map(),
    policyIds: new Map(),
    ownerIds: new Map(),
    overlapS: parseDuration(overlap),
  };
  const secrets = secretsFile && issues ? openPrivateAppend(secretsFile) : null;
  if (secrets?.tightened) ctx.out.note(secrets.tightened);
  const done: Array<ReturnType<typeof jsonChange> & { tokenId?: string }> = [];
  const bar = ctx.out.json ? null : ctx.out.progress(changes.length, 'applying');
  try {
    for (const c of changes) {
      let r: Awaited<ReturnType<Change['run']>>;
      try {
        r = await c.run(st);
      } catch (err) {
        const applied = done.length ? `; ${done.length} change(s) before it were applied` : '';
        throw new CliError(`${c.op} ${c.kind} ${c.name} failed: ${(err as Error).message}${applied}`, ExitCode.SERVER);
      }
      if (r.secret) {
        const record =
          c.kind === 'token'
            ? { token: c.name, tokenId: r.tokenId, secret: r.secret }
            : c.kind === 'webhook'
              ? { webhook: c.name, webhookId: r.webhookId, signingSecret: r.secret }
              : { credentialRotator: c.name, signingSecret: r.secret };
        if (secrets) writeSync(secrets.fd, `${JSON.stringify(record)}\n`);
        else ctx.out.line(`secret of ${c.name} (shown once): ${r.secret}`);
      }
      done.push({
        ...jsonChange({ ...c, impact: r.impact ?? c.impact }, overlap),
        ...(r.tokenId ? { tokenId: r.tokenId } : {}),
      });
      bar?.tick();
    }
  } finally {
    bar?.done();
    if (secrets) closeSync(secrets.fd);
  }
  ctx.out.result({ file: source, server: ctx.client.url, applied: done, summary: summary(changes) }, () => {
    if (done.length === 0) ctx.out.line(`${source}: nothing to do; ${ctx.client.url} already matches`);
    for (const c of done) {
      const verb = { create: 'created', update: 'updated', delete: 'deleted', replace: 'replaced' }[c.op];
      ctx.out.line(`${verb} ${c.kind} ${c.name}${c.impact ? ` (${impactLine(c.impact)})` : ''}`);
    }
    if (secrets) ctx.out.note(`the secrets it issued were appended to ${secretsFile}`);
  });
}
