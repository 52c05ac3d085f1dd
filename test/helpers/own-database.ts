// A database, data directory and Redis prefix of a test file's own, for tests that must know that
// no other file's processes read or act on their rows (the planner, the relay's webhook
// deliveries, the key ring). The API the file starts on it bootstraps it; drop() removes it. Its
// names carry the run's prefix, so the run's teardown removes whatever a failed file left.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { testEnv } from './api';
import { databaseUrl, deleteRedisKeys, dropDatabases } from '../../scripts/shared/infra';

export interface OwnDatabase {
  /** Overrides for startTestApi / spawnLatchkey. */
  env: Record<string, string>;
  /** The bootstrap admin token (once an API has started on it). */
  bootstrapToken(): string;
  drop(): Promise<void>;
}

/** A Redis prefix of the run's, for a file that shares the run's database but not its queues. */
export const ownRedisPrefix = (tag: string) => `${inject('run').redisPrefix}-${tag}-${randomBytes(3).toString('hex')}`;

export function ownDatabase(tag: string): OwnDatabase {
  const id = `${tag}_${randomBytes(3).toString('hex')}`;
  const name = `${inject('run').databasePrefix}_${id}`;
  const dataDir = mkdtempSync(join(tmpdir(), `latchkey-${tag}-`));
  const env = {
    DATABASE_URL: databaseUrl(testEnv().DATABASE_URL!, name),
    REDIS_PREFIX: ownRedisPrefix(tag),
    LATCHKEY_DATA_DIR: dataDir,
    BOOTSTRAP_TOKEN_FILE: join(dataDir, 'bootstrap-token'),
  };
  return {
    env,
    bootstrapToken: () => readFileSync(env.BOOTSTRAP_TOKEN_FILE, 'utf8').trim(),
    async drop() {
      await dropDatabases(env.DATABASE_URL, name);
      await deleteRedisKeys(testEnv().REDIS_URL!, env.REDIS_PREFIX);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
