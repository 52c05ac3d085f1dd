// What a test run or a benchmark takes from the machine it shares with others: the Postgres named
// by DATABASE_URL and the Redis named by REDIS_URL (defaults: the README's), databases and Redis
// keys named with a prefix of its own and removed afterwards, free loopback ports, and Latchkey
// started from dist/ in a child process. Shared by the tests (global setup, helpers) and the bench
// harness; it lives under scripts/ because the build compiles scripts/ and not test/ (see the
// Dockerfile), and imports nothing from vitest.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { Client } from 'pg';

/** The repository: two folders up from scripts/shared, three from dist/scripts/shared. */
export const ROOT = existsSync(resolve(__dirname, '..', '..', 'package.json'))
  ? resolve(__dirname, '..', '..')
  : resolve(__dirname, '..', '..', '..');

/** The built entry point (`npm run build`). */
export const MAIN = join(ROOT, 'dist', 'src', 'main.js');

/** The servers the run uses: the caller's DATABASE_URL and REDIS_URL, else the README's defaults. */
export const servers = {
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/latchkey',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
};

/** The same server and credentials as `url`, another database. */
export function databaseUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A connected client of `url`; the caller ends it. */
export async function connectPg(url: string): Promise<Client> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  return pg;
}

/** Runs `fn` with a client of `url`, ended afterwards whatever happens. */
export async function withPg<T>(url: string, fn: (pg: Client) => Promise<T>): Promise<T> {
  const pg = await connectPg(url);
  try {
    return await fn(pg);
  } finally {
    await pg.end();
  }
}

/** Drops every database on `url`'s server whose name starts with `prefix` (letters, digits and _ only). */
export async function dropDatabases(url: string, prefix: string): Promise<string[]> {
  if (!/^\w+$/.test(prefix)) throw new Error(`not a database prefix: ${prefix}`);
  return withPg(databaseUrl(url, 'postgres'), async (pg) => {
    const { rows } = await pg.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`,
      [prefix],
    );
    for (const { datname } of rows) await pg.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    return rows.map((r) => r.datname);
  });
}

/** Every key of `redis` that starts with `prefix`, a batch at a time (SCAN: no KEYS on a shared server). */
export async function* redisKeys(redis: Redis, prefix: string): AsyncGenerator<string[]> {
  if (!/^[\w-]+$/.test(prefix)) throw new Error(`not a Redis prefix: ${prefix}`);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) yield keys;
    cursor = next;
  } while (cursor !== '0');
}

/** Deletes every key of `url`'s Redis that starts with `prefix`; returns how many. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url);
  let deleted = 0;
  try {
    for await (const keys of redisKeys(redis, prefix)) deleted += await redis.del(...keys);
  } finally {
    await redis.quit();
  }
  return deleted;
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LatchkeyProcess {
  proc: ChildProcess;
  /** What the process wrote so far (stdout, and stderr unless inherited); up to readiness only with `keepOutput: false`. */
  output(): string;
  /** The JSON log lines of output(), parsed. */
  logs(): Array<Record<string, unknown>>;
  /** Where the API listens (from its "API listening" line), or null for a worker or a process that exited. */
  url: string | null;
  exited: Promise<Exit>;
  /** Sends `signal` (SIGTERM) unless the process has exited, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit & { ms: number }>;
}

export interface StartOptions {
  /** The process's whole environment (nothing is inherited). */
  env: Record<string, string>;
  /** Node flags before the entry point. */
  nodeArgs?: string[];
  /** Ready when the output matches this (default: the API's "API listening" line). */
  waitFor?: RegExp;
  timeoutMs?: number;
  /** Where stderr goes: into output() (pipe), or to this process's stderr. */
  stderr?: 'pipe' | 'inherit';
  /** false: stop collecting output once ready (a long benchmark's logs), leaving stdout to the caller. */
  keepOutput?: boolean;
}

/**
 * Latchkey as users run it: dist/src/main.js in a child process. Resolves once the output matches
 * `waitFor`, or when the process exits first (look at `exited`); rejects after `timeoutMs`.
 */
export async function startLatchkey(opts: StartOptions): Promise<LatchkeyProcess> {
  const {
    env,
    nodeArgs = [],
    waitFor = /"msg":"API listening"/,
    timeoutMs = 20_000,
    stderr = 'pipe',
    keepOutput = true,
  } = opts;
  const proc = spawn(process.execPath, [...nodeArgs, MAIN], { env, stdio: ['ignore', 'pipe', stderr] });
  let out = '';
  const collect = (d: Buffer) => (out += d);
  proc.stdout!.on('data', collect);
  proc.stderr?.on('data', collect);
  const exited = new Promise<Exit>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  let timer: NodeJS.Timeout | undefined;
  let check: () => void = () => undefined;
  await Promise.race([
    exited,
    new Promise<void>((ready, reject) => {
      timer = setTimeout(() => reject(new Error(`Latchkey did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
      check = () => (waitFor.test(out) ? ready() : undefined);
      proc.stdout!.on('data', check);
      check();
    }),
  ]).finally(() => {
    clearTimeout(timer);
    proc.stdout!.off('data', check);
  });
  if (!keepOutput) {
    proc.stdout!.off('data', collect);
    proc.stderr?.off('data', collect);
  }
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
