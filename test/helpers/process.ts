// Latchkey as users run it: the built entry point in a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { testEnv } from './api';

export const MAIN = resolve(__dirname, '..', '..', 'dist', 'src', 'main.js');

export interface LatchkeyProcess {
  proc: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Parsed JSON log lines. */
  logs(): Array<Record<string, unknown>>;
  url: string | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/** Starts the built entry point; resolves once the API listens (or the process exits). */
export async function spawnLatchkey(overrides: Record<string, string> = {}, opts: { waitFor?: RegExp } = {}): Promise<LatchkeyProcess> {
  const env = { PATH: process.env.PATH ?? '', ...testEnv({ LOG_LEVEL: 'info' }), ...overrides };
  const proc = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const waitFor = opts.waitFor ?? /"msg":"API listening"/;
  await Promise.race([
    exited,
    new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`Latchkey did not start:\n${out}`)), 20_000);
      const check = () => {
        if (waitFor.test(out)) {
          clearTimeout(timer);
          resolveReady();
        }
      };
      proc.stdout!.on('data', check);
      check();
    }),
  ]);
  const listening = logs().find((l) => l.msg === 'API listening');
  return {
    proc,
    output: () => out,
    logs,
    url: (listening?.url as string | undefined) ?? null,
    exited,
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const r = await exited;
      return { ...r, ms: Date.now() - started };
    },
  };
}
