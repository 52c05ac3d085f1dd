// Per-token rate limits, counted atomically in Redis so every replica shares one window.
import type { Redis } from 'ioredis';
import { redisReady } from '../platform/redis';

// A fixed window that starts at the first hit. KEYS: counter. ARGV: window ms.
const HIT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the window resets. */
  retryAfter: number;
}

export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async hit(tokenId: string, limit: { requests: number; per: number }): Promise<RateDecision> {
    if (!redisReady(this.redis)) throw new Error('Redis is not connected');
    const key = `${this.prefix}:rl:${tokenId}:${limit.requests}:${limit.per}`;
    const [count, ttl] = (await this.redis.eval(HIT, 1, key, limit.per * 1000)) as [number, number];
    return { allowed: count <= limit.requests, retryAfter: Math.max(1, Math.ceil(ttl / 1000)) };
  }
}
