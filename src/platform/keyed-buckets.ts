// A token bucket per key (a client address, a token id), in process memory: each key may spend
// `burst` at once, refilled at `perSecond`. Used where a caller may cost Latchkey reads or writes
// that it should not be able to multiply: unknown credentials per address, refused reveals per token.
import { LRUCache } from 'lru-cache';

export class KeyedBuckets {
  private readonly buckets: LRUCache<string, { tokens: number; at: number }>;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    max = 50_000,
  ) {
    this.buckets = new LRUCache({ max });
  }

  private refilled(key: string, now: number): { tokens: number; at: number } {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    this.buckets.set(key, b);
    return b;
  }

  /** Whether `key` has one left, spending nothing. */
  has(key: string | null | undefined, now = Date.now()): boolean {
    return this.refilled(key ?? 'unknown', now).tokens >= 1;
  }

  /**
   * Spends one for `key` after the fact (what was spent while it still had some counts too): into
   * debt as deep as one burst, repaid before it has one again.
   */
  take(key: string | null | undefined, now = Date.now()): void {
    const b = this.refilled(key ?? 'unknown', now);
    b.tokens = Math.max(-this.burst, b.tokens - 1);
  }

  /** Spends one for `key`; false, spending nothing, when its bucket is empty. */
  allow(key: string | null | undefined, now = Date.now()): boolean {
    if (!this.has(key, now)) return false;
    this.take(key, now);
    return true;
  }

  /** Whole seconds until `key` has one again. */
  retryAfter(key: string | null | undefined): number {
    const b = this.buckets.get(key ?? 'unknown');
    return b ? Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond)) : 1;
  }
}
