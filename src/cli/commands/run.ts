// latchkey run: a command with managed credentials in its environment, kept current. The command
// gets the variables it asked for and never the Latchkey token that read them; a new version
// restarts (or signals) it; once the token may no longer read a value it holds (access withdrawn,
// token revoked, credential gone), the command is stopped.
import { type ChildProcess, spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../../platform/iso-duration';
import { collect, contextOf, type Ctx, durationArg } from '../context';
import { CliError, ExitCode, usage } from '../errors';
import { read } from './credentials';

/** What a shell answers for a command it cannot start. */
const NOT_FOUND = 127;
const NOT_EXECUTABLE = 126;
/** A refusal of a value the command holds: it must stop holding it. */
const WITHDRAWN = new Set([ExitCode.AUTH, ExitCode.FORBIDDEN, ExitCode.NOT_FOUND]);
/** How long a stopped command has to exit before it is killed. */
const STOP_GRACE_MS = 10_000;

const signalArg = (value: string): NodeJS.Signals => {
  const s = value.toUpperCase().replace(/^(SIG)?/, 'SIG');
  if (!(s in osConstants.signals))
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a signal: e.g. SIGHUP or SIGUSR1`);
  return s as NodeJS.Signals;
};

const intervalArg = (value: string): number => {
  const s = parseDuration(durationArg(value));
  if (s < 1) throw new InvalidArgumentError(`${JSON.stringify(value)} is too short: revalidate at most once a second`);
  return s * 1000;
};

export function runCommand(program: Command): void {
  program
    .command('run')
    .description(
      'run a command with credentials in its environment, restarting it (or signalling it) when one rotates, and stopping it when its access is withdrawn',
    )
    .requiredOption(
      '--env <VAR=credential>',
      'an environment variable and the credential it holds (repeatable)',
      collect,
    )
    .option('--signal <signal>', 'send this signal on a rotation instead of restarting (e.g. SIGHUP)', signalArg)
    .option('--interval <duration>', 'how often to revalidate the values (ETag; not a reveal)', intervalArg, 30_000)
    .argument('<command...>', 'the command, after --')
    .addHelpText(
      'after',
      '\nThe command gets the --env variables and the rest of this environment, without LATCHKEY_TOKEN. It exits 127 when it cannot be found, 126 when it cannot be run.\n\nExample:\n  $ latchkey run --env CRM_TOKEN=crm-sales-readonly -- node server.js',
    )
    .action(
      async (command: string[], o: { env: string[]; signal?: NodeJS.Signals; interval: number }, cmd: Command) => {
        const ctx = contextOf(cmd);
        const pairs = o.env.map((e) => {
          const i = e.indexOf('=');
          if (i <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.slice(0, i)))
            throw usage(`--env ${JSON.stringify(e)} must look like VAR=credential-name`);
          return [e.slice(0, i), e.slice(i + 1)] as const;
        });
        await runWithCredentials(ctx, pairs, command, o.signal, o.interval);
      },
    );
}

type Ended = { code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException };

/**
 * Starts the command with the values in its environment; on a new version restarts it (SIGTERM,
 * then start again with the new values) or, with --signal, signals it (a process that re-reads its
 * credentials itself, e.g. with `latchkey credentials get`). Exits as the command exits.
 */
async function runWithCredentials(
  ctx: Ctx,
  pairs: ReadonlyArray<readonly [string, string]>,
  command: string[],
  signal: NodeJS.Signals | undefined,
  intervalMs: number,
): Promise<void> {
  // The token reads the values; the command gets the values only.
  const { LATCHKEY_TOKEN: _token, ...inherited } = process.env;
  const versions = new Map<string, number>();
  const environment = async () => {
    const env: Record<string, string> = {};
    for (const [variable, name] of pairs) {
      const c = await read(ctx.credentials, name);
      versions.set(name, c.version);
      env[variable] = c.value;
    }
    return env;
  };
  let child!: ChildProcess;
  let exit!: Promise<Ended>;
  const start = async () => {
    child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env: { ...inherited, ...(await environment()) } });
    exit = new Promise((resolve) => {
      child.once('exit', (code, sig) => resolve({ code, signal: sig }));
      child.once('error', (error) => resolve({ error }));
    });
  };
  // Set and cleared by check(), which runs on a timer: declared so, TypeScript does not narrow it to null below.
  let restart = null as Promise<void> | null;
  let withdrawn: CliError | null = null;
  const stop = (why: CliError) => {
    withdrawn = new CliError(
      `${why.message}: the command was stopped, as it must no longer hold the value`,
      why.exitCode,
      why.code,
    );
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS).unref();
  };
  const check = async () => {
    if (restart || withdrawn) return;
    let latest: Awaited<ReturnType<typeof read>>[];
    try {
      latest = await Promise.all(pairs.map(([, name]) => read(ctx.credentials, name)));
    } catch (err) {
      if (err instanceof CliError && WITHDRAWN.has(err.exitCode)) return stop(err);
      throw err;
    }
    if (latest.every((c) => versions.get(c.name) === c.version)) return;
    ctx.out.note(
      `latchkey run: a credential has a new version; ${signal ? `sending ${signal}` : 'restarting the command'}`,
    );
    if (signal) {
      latest.forEach((c) => versions.set(c.name, c.version));
      child.kill(signal);
      return;
    }
    restart = (async () => {
      child.kill('SIGTERM');
      await exit;
      await start();
    })();
    await restart;
    restart = null;
  };
  await start();
  const timer = setInterval(
    () =>
      void check().catch((err) =>
        ctx.out.note(`latchkey run: could not revalidate (the command keeps running): ${(err as Error).message}`),
      ),
    intervalMs,
  );
  const forward = (s: NodeJS.Signals) => child.kill(s);
  process.on('SIGINT', forward).on('SIGTERM', forward);
  try {
    for (;;) {
      const ended = await exit;
      if (restart && !('error' in ended)) {
        await restart;
        continue;
      }
      if ('error' in ended) {
        const missing = ended.error.code === 'ENOENT';
        throw new CliError(
          `cannot run ${JSON.stringify(command[0])}: ${missing ? 'no such command' : ended.error.code === 'EACCES' ? 'permission denied' : ended.error.message}`,
          missing ? NOT_FOUND : NOT_EXECUTABLE,
        );
      }
      if (withdrawn) throw withdrawn;
      process.exitCode = ended.code ?? (ended.signal ? 128 + (osConstants.signals[ended.signal] ?? 0) : 1);
      return;
    }
  } finally {
    clearInterval(timer);
    process.off('SIGINT', forward).off('SIGTERM', forward);
  }
}
