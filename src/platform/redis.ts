// Redis connections. Request paths fail fast; BullMQ workers wait (maxRetriesPerRequest: null).
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { throttled } from './logger';

export type RedisUse = 'command' | 'worker' | 'subscriber';

export function createRedis(url: string, use: RedisUse, name: string, log: Logger): Redis {
  const options: RedisOptions = {
    connectionName: `latchkey:${name}`,
    enableAutoPipelining: use === 'command',
    maxRetriesPerRequest: use === 'command' ? 2 : null,
    // Request paths must not hang on a Redis that is down: they fall back or fail fast.
    commandTimeout: use === 'command' ? 1_000 : undefined,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  };
  const redis = new Redis(url, options);
  // ioredis prints every failed reconnect on stderr when nobody listens: one structured line
  // every 10 s instead, naming the setting to check.
  const warnNow = throttled();
  redis.on('error', (err: Error) => {
    if (!warnNow()) return;
    log.warn(
      {
        err: { message: err.message, code: (err as NodeJS.ErrnoException).code },
        setting: 'REDIS_URL',
        connection: name,
      },
      'Redis is not answering; retrying',
    );
  });
  return redis;
}

/**
 * Whether commands would be sent now. While Redis is down, request paths skip it at once rather
 * than queue a command and wait for its timeout.
 */
export const redisReady = (redis: Redis): boolean => redis.status === 'ready';

/** Closes a connection, politely if it is up, at once if not. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
