// Shared plumbing for the benchmark scripts: a database and Redis prefix of their own, Latchkey
// started as users start it (the built entry point), RSS sampling and clean-up.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  connectPg,
  databaseUrl as onServer,
  deleteRedisKeys,
  dropDatabases,
  ROOT,
  servers,
  startLatchkey as startProcess,
} from '../shared/infra';

export { ROOT };

export interface BenchEnv {
  env: Record<string, string>;
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  dataDir: string;
}

export function benchEnv(name: string, extra: Record<string, string> = {}): BenchEnv {
  const id = `${name}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = onServer(servers.databaseUrl, `latchkey_bench_${id}`);
  const redisUrl = servers.redisUrl;
  const prefix = `lkbench-${id}`;
  const dataDir = join('/tmp', `latchkey-bench-${id}`);
  return {
    databaseUrl,
    redisUrl,
    prefix,
    dataDir,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      TOKEN_PEPPER: randomBytes(32).toString('base64'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      AUDIT_SIGNING_KEY: randomBytes(32).toString('base64'),
      LATCHKEY_DATA_DIR: dataDir,
      BOOTSTRAP_TOKEN_FILE: join(dataDir, 'bootstrap-token'),
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: '0',
      // Settings under test can be passed through, e.g. USAGE_FLUSH_MS=1000 npm run bench:verify
      ...(Object.fromEntries(
        Object.entries(process.env).filter(([k]) => /^(USAGE_|VERIFY_|PERMISSIONS_|PLANNER_|WORKER_|GRAPHQL_)/.test(k)),
      ) as Record<string, string>),
      ...extra,
    },
  };
}

export interface Started {
  proc: ChildProcess;
  url: string | null;
  stop(): Promise<void>;
}

/** Starts dist/src/main.js and waits until it listens (or, for workers, until `ready` matches). */
export async function startLatchkey(env: Record<string, string>, ready = /"msg":"API listening"/): Promise<Started> {
  // The flags `npm start` uses (package.json config.nodeFlags), or BENCH_NODE_ARGS to try others.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? serverFlags()).split(' ').filter(Boolean);
  const p = await startProcess({
    env: { ...env, LOG_LEVEL: env.LOG_LEVEL === 'warn' ? 'info' : env.LOG_LEVEL! },
    nodeArgs,
    waitFor: ready,
    timeoutMs: 60_000,
    stderr: 'inherit',
    keepOutput: false,
  });
  const { proc } = p;
  if (proc.exitCode !== null || proc.signalCode !== null)
    throw new Error(`Latchkey exited with ${proc.exitCode ?? proc.signalCode}:\n${p.output()}`);
  // Keep the process's log for a look afterwards (BENCH_LOG=path: one file per process, path.<pid>).
  if (process.env.BENCH_LOG) proc.stdout!.pipe(createWriteStream(`${process.env.BENCH_LOG}.${proc.pid}`));
  else proc.stdout!.resume();
  return {
    proc,
    url: p.url,
    async stop() {
      await p.stop();
    },
  };
}

export function serverFlags(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { config: { nodeFlags: string } }).config
    .nodeFlags;
}

/** Resident memory of a process in MB, from /proc. */
export function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Samples RSS every 200 ms; returns the peak so far. */
export function sampleRss(pid: number) {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      clearInterval(timer);
    }
  }, 200);
  timer.unref();
  return {
    peak: () =>
      Math.max(
        peak,
        (() => {
          try {
            return rssMb(pid, 'VmHWM');
          } catch {
            return 0;
          }
        })(),
      ),
    stop: () => clearInterval(timer),
  };
}

export const pg = connectPg;

/** Drops the bench database and the Redis keys under its prefix. */
export async function cleanUp(b: BenchEnv): Promise<void> {
  await dropDatabases(b.databaseUrl, new URL(b.databaseUrl).pathname.slice(1));
  await deleteRedisKeys(b.redisUrl, b.prefix);
}

/** A bare node:http server of `script` (which prints `LISTEN <port>`) in a process of its own: the baseline. */
export async function startBare(script: string): Promise<{ url: string; stop: () => void }> {
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolvePort) =>
    proc.stdout!.on('data', (d: Buffer) => {
      const m = /LISTEN (\d+)/.exec(String(d));
      if (m) resolvePort(m[1]!);
    }),
  );
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill() };
}

/**
 * Writes the run's figures to bench-results/NAME.json (or BENCH_RESULTS_DIR) with the machine and
 * commit, so a run's record is a file rather than an edit of the docs. Returns the path.
 */
export function writeResult(name: string, figures: Record<string, unknown>): string {
  const dir = process.env.BENCH_RESULTS_DIR ?? join(ROOT, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const result = { bench: name, at: new Date().toISOString(), machine: machine(), commit: commit(), figures };
  writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
  console.log(`figures written to ${path}`);
  return path;
}

function commit(): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return null;
  }
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}${memoryMonitor()}`;
}

/**
 * The kernel's memory monitor (DAMON), when it runs: on some virtual machines it takes a core for
 * tens of milliseconds at every sampling interval, which shows in latency figures.
 */
function memoryMonitor(): string {
  const dir = '/sys/kernel/mm/damon/admin/kdamonds/0';
  try {
    if (readFileSync(join(dir, 'state'), 'utf8').trim() !== 'on') return '';
    const us = Number(readFileSync(join(dir, 'contexts/0/monitoring_attrs/intervals/sample_us'), 'utf8'));
    return `, kernel memory monitor (DAMON) on, sampling every ${us / 1000} ms`;
  } catch {
    return '';
  }
}

export async function graphql(
  url: string,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<any> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

export const fmt = (n: number, digits = 1) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
