// latchkey audit tail|verify
import type { Command } from 'commander';
import { collect, contextOf } from '../context';
import { CliError, ExitCode } from '../errors';
import { AuditCountDocument, AuditTailDocument, OwnersDocument, VerifyAuditChainDocument } from '../generated/graphql';

export function auditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('tail')
    .description('the latest audit events, then each new one as it happens (with --after, everything since that seq)')
    .option('--after <seq>', 'start after this sequence number', (v) => {
      if (!/^\d+$/.test(v))
        throw new CliError(`--after ${JSON.stringify(v)} must be a sequence number`, ExitCode.USAGE);
      return Number(v);
    })
    .option(
      '--last <n>',
      "without --after: start with the tenant's last n events",
      (v) => {
        if (!/^\d+$/.test(v)) throw new CliError(`--last ${JSON.stringify(v)} must be a number`, ExitCode.USAGE);
        return Number(v);
      },
      10,
    )
    .option('--action <action>', 'only this action, e.g. TOKEN_REVOKED (repeatable)', collect)
    .addHelpText(
      'after',
      '\nExamples:\n  $ latchkey audit tail\n  $ latchkey audit tail --action TOKEN_REVOKED --action TOKEN_EXPIRED\n  $ latchkey audit tail --after 1200 --output json | jq .action',
    )
    .action(async (o: { after?: number; last: number; action?: string[] }, cmd: Command) => {
      const { client, out } = contextOf(cmd);
      // A tenant's seqs run from 1 without gaps: the count of its events is the last seq.
      const afterSeq =
        o.after ?? Math.max(0, (await client.request(AuditCountDocument)).auditEvents.totalCount - o.last);
      // Names beside ids, for people: who acted, and what the event names (a credential, a token).
      const owners = new Map<string, string>();
      if (!out.json)
        for await (const ow of client.pages(
          async (after) => (await client.request(OwnersDocument, { first: 100, after })).owners,
        ))
          owners.set(ow.id, ow.name);
      await client.subscribe(AuditTailDocument, { afterSeq, actions: o.action }, ({ auditEvents: e }) => {
        // One JSON object per line: a stream that jq and log shippers read as it comes.
        if (out.json) return out.line(JSON.stringify(e));
        const target =
          typeof e.data?.name === 'string'
            ? `${e.data.name} (${e.targetId})`
            : owners.has(e.targetId)
              ? `${owners.get(e.targetId)} (${e.targetId})`
              : e.targetId;
        const actor = e.actorId ? `  by ${owners.get(e.actorId) ?? '?'} (${e.actorId})` : '  by Latchkey';
        out.line(
          `${String(e.seq).padStart(8)}  ${e.at}  `,
          out.paint('1', e.action.padEnd(26)),
          ` ${e.targetType.toLowerCase()} ${target}${actor}`,
        );
      });
    });
  audit
    .command('verify')
    .description("recompute the tenant's hash chain on the server; exits 1 when it is broken")
    .addHelpText(
      'after',
      '\nExample:\n  $ latchkey audit verify\n  To check an export offline: npm run audit:verify -- export.ndjson',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out } = contextOf(cmd);
      const { verifyAuditChain: r } = await client.request(VerifyAuditChainDocument);
      out.result(r, () => {
        if (!r.valid)
          return out.line(
            `the chain is BROKEN at seq ${r.firstBrokenSeq}: ${r.problem} (${r.checked} event(s) checked)`,
          );
        out.line(`the chain is intact: ${r.checked} event(s) and ${r.checkpoints} signed checkpoint(s) checked`);
        if (r.unsignedTail) {
          out.line(
            `${r.unsignedTail} event(s) after the last signed checkpoint (seq ${r.signedThrough}): a cut there shows only against an export you kept (npm run audit:verify -- --trusted-head)`,
          );
        }
      });
      if (!r.valid) process.exitCode = ExitCode.SERVER;
    });
}
