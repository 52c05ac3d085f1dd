// What a test run takes from the machine it shares with others: the Postgres named by
// DATABASE_URL and the Redis named by REDIS_URL (defaults: the README's), databases and Redis keys
// named with the run's prefix and removed afterwards, and free loopback ports. Used by global
// setup (which has no vitest context) and by the helpers; imports nothing from vitest.
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { Client } from 'pg';

/** The servers the run uses: the caller's DATABASE_URL and REDIS_URL, else the README's defaults. */
export const machine = {
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/latchkey',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
};

/** The same server and credentials as `url`, another database. */
export function databaseUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function onServer<T>(url: string, fn: (pg: Client) => Promise<T>): Promise<T> {
  const pg = new Client({ connectionString: databaseUrl(url, 'postgres') });
  await pg.connect();
  try {
    return await fn(pg);
  } finally {
    await pg.end();
  }
}

/** Drops every database on `url`'s server whose name starts with `prefix` (letters, digits and _ only). */
export async function dropDatabases(url: string, prefix: string): Promise<string[]> {
  if (!/^\w+$/.test(prefix)) throw new Error(`not a database prefix: ${prefix}`);
  return onServer(url, async (pg) => {
    const { rows } = await pg.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [prefix]);
    for (const { datname } of rows) await pg.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    return rows.map((r) => r.datname);
  });
}

/** Deletes every key of `url`'s Redis that starts with `prefix`; returns how many. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  if (!/^[\w-]+$/.test(prefix)) throw new Error(`not a Redis prefix: ${prefix}`);
  const redis = new Redis(url);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
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
