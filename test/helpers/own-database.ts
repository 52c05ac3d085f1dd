// A database, data directory and Redis prefix of a test file's own, for tests that must know that
// no other file's processes read or act on their rows (the planner, the relay's webhook
// deliveries, the key ring). The API the file starts on it bootstraps it; drop() removes it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { testEnv } from './api';

export interface OwnDatabase {
  /** Overrides for startTestApi / spawnLatchkey. */
  env: Record<string, string>;
  /** The bootstrap admin token (once an API has started on it). */
  bootstrapToken(): string;
  drop(): Promise<void>;
}

export function ownDatabase(tag: string): OwnDatabase {
  const id = `${tag}_${randomBytes(3).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), `latchkey-${tag}-`));
  const databaseUrl = testEnv().DATABASE_URL!.replace(/latchkey_test_\w+$/, `latchkey_test_${id}`);
  const env = { DATABASE_URL: databaseUrl, REDIS_PREFIX: `lktest-${id}`, LATCHKEY_DATA_DIR: dataDir, BOOTSTRAP_TOKEN_FILE: join(dataDir, 'bootstrap-token') };
  return {
    env,
    bootstrapToken: () => readFileSync(env.BOOTSTRAP_TOKEN_FILE, 'utf8').trim(),
    async drop() {
      const url = new URL(databaseUrl);
      const name = url.pathname.slice(1);
      url.pathname = '/postgres';
      const pg = new Client({ connectionString: url.toString() });
      await pg.connect();
      await pg.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await pg.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
