// The latchkey command line: automation for a Latchkey server over its GraphQL API only.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { auditCommands } from './commands/audit';
import { catalogCommands } from './commands/catalog';
import { credentialCommands } from './commands/credentials';
import { policyAsCodeCommands } from './commands/policy-as-code';
import { runCommand } from './commands/run';
import { tokensCommand } from './commands/tokens';
import { webhookCommands } from './commands/webhooks';
import { completionCommand } from './commands/completion';
import { CliError, ExitCode } from './errors';
import { visible } from './terminal-text';

const lines = (text: string) => visible(text, { keepNewlines: true });

/** The version in package.json (two folders up from dist/src/cli, or from src/cli). */
function packageVersion(): string {
  for (const up of ['../../../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(resolve(__dirname, up), 'utf8')) as { name: string; version: string }).version;
    } catch {
      // try the next
    }
  }
  return 'unknown';
}

export function buildProgram(): Command {
  const program = new Command('latchkey')
    .description(
      'Manage tokens, managed credentials, owners, roles, scopes and rotation policies on a Latchkey server.',
    )
    .version(packageVersion(), '-V, --version', 'print the version of this command line')
    .option('--url <url>', 'the server (default: $LATCHKEY_URL or http://127.0.0.1:4000)')
    .option('--token <token>', 'prefer $LATCHKEY_TOKEN: a flag shows up in shell history and the process list')
    .addOption(
      new Option('-o, --output <format>', 'table for people, json for scripts')
        .choices(['table', 'json'])
        .default('table'),
    )
    .configureOutput({
      writeOut: (s) => process.stdout.write(lines(s)),
      writeErr: (s) => process.stderr.write(lines(s)),
    })
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Environment:
  LATCHKEY_URL     the server, e.g. https://latchkey.internal
  LATCHKEY_TOKEN   a Latchkey CONTROL token (never printed)

Exit codes:
  0 ok   1 server error (plan/apply: any error)   2 plan: changes pending   3 usage
  4 authentication   5 forbidden   6 not found   7 input refused   8 server unreachable

Examples:
  $ export LATCHKEY_TOKEN=lk_…
  $ latchkey tokens list --owner homepage-dashboard
  $ latchkey plan -f latchkey.yaml && echo "in sync"
  $ latchkey audit tail --action TOKEN_REVOKED`,
    );
  tokensCommand(program);
  catalogCommands(program);
  auditCommands(program);
  credentialCommands(program);
  runCommand(program);
  webhookCommands(program);
  completionCommand(program);
  policyAsCodeCommands(program);
  program.commands.forEach(function exitOverride(c: Command) {
    c.exitOverride();
    c.commands.forEach(exitOverride);
  });
  program.exitOverride();
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; anything else commander refused is usage.
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`latchkey: ${lines(err.message)}\n`);
      return err.exitCode;
    }
    process.stderr.write(
      `latchkey: unexpected error: ${lines(err instanceof Error ? String(err.stack) : String(err))}\n`,
    );
    return ExitCode.SERVER;
  }
}
