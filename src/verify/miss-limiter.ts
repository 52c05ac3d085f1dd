// Credentials that are not in memory cost a read of Redis or Postgres. On the doors where the
// caller is not yet authenticated (Latchkey's own API, gateway credentials, successor pickup), each
// client address may cause only so many such reads: a token bucket per address, in process memory.
import { LRUCache } from 'lru-cache';

export class MissLimiter {
  private readonly buckets: LRUCache<string, { tokens: number; at: number }>;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.buckets = new LRUCache({ max: 50_000 });
  }

  /** Takes one read for `address`; false when its bucket is empty. */
  allow(address: string | null | undefined, now = Date.now()): boolean {
    const key = address ?? 'unknown';
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    this.buckets.set(key, b);
    return allowed;
  }

  /** Seconds until `address` may cause a read again. */
  retryAfter(address: string | null | undefined): number {
    const b = this.buckets.get(address ?? 'unknown');
    return b ? Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond)) : 1;
  }
}
