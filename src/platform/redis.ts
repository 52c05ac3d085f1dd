// Redis connections. Request paths fail fast; BullMQ workers wait (maxRetriesPerRequest: null).
import { Redis, type RedisOptions } from 'ioredis';

export type RedisUse = 'command' | 'worker' | 'subscriber';

export function createRedis(url: string, use: RedisUse, name: string): Redis {
  const options: RedisOptions = {
    connectionName: `latchkey:${name}`,
    enableAutoPipelining: use === 'command',
    maxRetriesPerRequest: use === 'command' ? 2 : null,
    // Request paths must not hang on a Redis that is down: they fall back or fail fast.
    commandTimeout: use === 'command' ? 1_000 : undefined,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  };
  return new Redis(url, options);
}

/** Closes a connection, politely if it is up, at once if not. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
