// Once per test run: a database of its own on DATABASE_URL's server, a Redis prefix of its own on
// REDIS_URL, migrations applied and the first tenant bootstrapped. Everything the run creates is
// named with its prefix, and the teardown removes all of it: two runs on one machine never collide.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { createContainer } from '../../src/app/container';
import { loadConfig } from '../../src/platform/config';
import { createLogger } from '../../src/platform/logger';
import { databaseUrl, deleteRedisKeys, dropDatabases, servers } from '../../scripts/shared/infra';

declare module 'vitest' {
  export interface ProvidedContext {
    env: Record<string, string>;
    bootstrapToken: string;
    /** What every database and Redis key of the run is named with (see own-database.ts). */
    run: RunNames;
  }
}

export interface RunNames {
  databasePrefix: string;
  redisPrefix: string;
}

export default async function setup(project: TestProject) {
  // Fixed length, so that no run's prefix is the beginning of another's.
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const run: RunNames = { databasePrefix: `lktest_${runId}`, redisPrefix: `lktest-${runId}` };
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl(servers.databaseUrl, run.databasePrefix),
    REDIS_URL: servers.redisUrl,
    REDIS_PREFIX: run.redisPrefix,
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
  project.provide('run', run);
  project.provide('bootstrapToken', readFileSync(env.BOOTSTRAP_TOKEN_FILE!, 'utf8').trim());

  return async () => {
    await dropDatabases(servers.databaseUrl, run.databasePrefix);
    await deleteRedisKeys(servers.redisUrl, run.redisPrefix);
    rmSync(dataDir, { recursive: true, force: true });
  };
}
