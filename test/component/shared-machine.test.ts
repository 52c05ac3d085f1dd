// npm test on a machine others use too: a run of two test files (one that creates databases of
// its own and starts Latchkey processes, one with a Redis prefix of its own) pointed by
// DATABASE_URL and REDIS_URL at a Postgres and a Redis of this test's own, so that what the run
// creates, and what it leaves behind, can be seen exactly.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { databaseUrl, withPg } from '../../scripts/shared/infra';
import { type PgProcess, startPgProcess } from '../helpers/pg-process';
import { type RedisProcess, startRedisProcess } from '../helpers/redis-process';

const root = resolve(__dirname, '..', '..');
let pg: PgProcess;
let redis: RedisProcess;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPgProcess({ logStatements: 'ddl' }), startRedisProcess()]);
});

afterAll(async () => {
  pg?.stop();
  await redis?.kill();
});

it('uses the Postgres and Redis it is given, and leaves no database and no key behind', async () => {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: databaseUrl(pg.adminUrl, 'latchkey'),
    REDIS_URL: redis.url,
  };
  const files = ['test/component/process.test.ts', 'test/integration/webhook-jobs.test.ts'];
  const run = await new Promise<{ code: number; output: string }>((done) =>
    execFile(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', ...files],
      { cwd: root, env, timeout: 170_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    ),
  );
  expect(run.code, run.output.slice(-3000)).toBe(0);

  // The run made its databases on the server it was given, each named with the run's prefix...
  const created = [...pg.log().matchAll(/CREATE DATABASE "([^"]+)"/g)].map((m) => m[1]!);
  expect(created.length).toBeGreaterThanOrEqual(2);
  const prefix = created[0]!;
  expect(prefix).toMatch(/^lktest_[0-9a-z]+$/);
  for (const name of created) expect(name.startsWith(prefix)).toBe(true);
  // ...and dropped every one of them.
  const left = await withPg(
    pg.adminUrl,
    async (admin) =>
      (await admin.query(`SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')`))
        .rows,
  );
  expect(left).toEqual([]);

  // It used the Redis it was given, and took every key back.
  const r = new Redis(redis.url);
  const stats = await r.info('stats');
  const keyspace = await r.info('keyspace');
  r.disconnect();
  expect(Number(/total_commands_processed:(\d+)/.exec(stats)![1])).toBeGreaterThan(100);
  expect(keyspace.trim()).toBe('# Keyspace');
}, 180_000);
