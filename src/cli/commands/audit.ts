// latchkey audit tail|verify
import type { Command } from 'commander';
import { collect, contextOf } from '../context';
import { CliError, ExitCode } from '../errors';
import { AuditTailDocument, VerifyAuditChainDocument } from '../generated/graphql';

export function auditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('tail')
    .description('follow audit events as they happen (with --after, first what happened since)')
    .option('--after <seq>', 'start after this sequence number', (v) => {
      if (!/^\d+$/.test(v)) throw new CliError(`--after ${JSON.stringify(v)} must be a sequence number`, ExitCode.USAGE);
      return Number(v);
    })
    .option('--action <action>', 'only this action, e.g. TOKEN_REVOKED (repeatable)', collect)
    .addHelpText('after', '\nExamples:\n  $ latchkey audit tail --action TOKEN_REVOKED --action TOKEN_EXPIRED\n  $ latchkey audit tail --after 1200 --output json | jq .action')
    .action(async (o: { after?: number; action?: string[] }, cmd: Command) => {
      const { client, out } = contextOf(cmd);
      await client.subscribe(AuditTailDocument, { afterSeq: o.after, actions: o.action }, ({ auditEvents: e }) => {
        // One JSON object per line: a stream that jq and log shippers read as it comes.
        if (out.json) out.line(JSON.stringify(e));
        else out.line(`${String(e.seq).padStart(8)}  ${e.at}  ${out.paint('1', e.action.padEnd(26))} ${e.targetType.toLowerCase()} ${e.targetId}${e.actorId ? `  by ${e.actorId}` : ''}`);
      });
    });
  audit
    .command('verify')
    .description("recompute the tenant's hash chain on the server; exits 1 when it is broken")
    .addHelpText('after', '\nExample:\n  $ latchkey audit verify\n  To check an export offline: npm run audit:verify -- export.ndjson')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out } = contextOf(cmd);
      const { verifyAuditChain: r } = await client.request(VerifyAuditChainDocument);
      out.result(r, () =>
        out.line(
          r.valid
            ? `the chain is intact: ${r.checked} event(s) and ${r.checkpoints} signed checkpoint(s) checked`
            : `the chain is BROKEN at seq ${r.firstBrokenSeq}: ${r.problem} (${r.checked} event(s) checked)`,
        ),
      );
      if (!r.valid) process.exitCode = ExitCode.SERVER;
    });
}
