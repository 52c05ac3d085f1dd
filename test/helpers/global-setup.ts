// Once per test run: a database of its own (dropped afterwards), a Redis prefix of its own,
// migrations applied and the first tenant bootstrapped. Two runs on one machine never collide.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { createContainer } from '../../src/app/container';
import { loadConfig } from '../../src/platform/config';
import { createLogger } from '../../src/platform/logger';

declare module 'vitest' {
  export interface ProvidedContext {
    env: Record<string, string>;
    bootstrapToken: string;
  }
}

export default async function setup(project: TestProject) {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/latchkey_test_${runId}`,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `lktest-${runId}`,
    TOKEN_PEPPER: randomBytes(32).toString('base64'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    AUDIT_SIGNING_KEY: randomBytes(32).toString('base64'),
    LATCHKEY_DATA_DIR: dataDir,
    BOOTSTRAP_TOKEN_FILE: join(dataDir, 'bootstrap-token'),
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    // Every process of the run gets these, because any of them may be the relay leader or run a
    // job: checkpoints often, webhook receivers on this host, short retries, a short relay lock.
    AUDIT_CHECKPOINT_EVERY: '10',
    WEBHOOK_ALLOW: '127.0.0.1',
    WEBHOOK_BACKOFF_MS: '100',
    WEBHOOK_ATTEMPTS: '8',
    RELAY_LOCK_TTL_MS: '1500',
  };
  const container = await createContainer(loadConfig(env), createLogger('silent'));
  await container.close();
  project.provide('env', env);
  project.provide('bootstrapToken', readFileSync(env.BOOTSTRAP_TOKEN_FILE!, 'utf8').trim());

  return async () => {
    const url = new URL(env.DATABASE_URL!);
    const db = url.pathname.slice(1);
    url.pathname = '/postgres';
    const pg = new Client({ connectionString: url.toString() });
    await pg.connect();
    await pg.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    await pg.end();
    const redis = new Redis(env.REDIS_URL!);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.REDIS_PREFIX}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
