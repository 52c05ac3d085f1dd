// The per-address budget of unknown credentials: a bucket of tokens per key, refilled over time.
import { describe, expect, it } from 'vitest';
import { KeyedBuckets } from '../../src/platform/keyed-buckets';

describe('KeyedBuckets', () => {
  it('spends only on take, into a debt of at most one burst that is repaid first', () => {
    const m = new KeyedBuckets(1, 2);
    const t = 1_000_000;
    expect(m.has('a', t)).toBe(true);
    for (let i = 0; i < 10; i++) m.take('a', t);
    expect(m.has('a', t)).toBe(false);
    expect(m.has('a', t + 2_000)).toBe(false);
    expect(m.has('a', t + 3_000)).toBe(true);
  });

  it('gives each key a burst, refilled over time, independently', () => {
    const m = new KeyedBuckets(2, 3);
    const t = 1_000_000;
    expect([m.allow('a', t), m.allow('a', t), m.allow('a', t), m.allow('a', t)]).toEqual([true, true, true, false]);
    expect(m.allow('b', t)).toBe(true);
    expect(m.allow('a', t + 499)).toBe(false);
    expect(m.allow('a', t + 1_000)).toBe(true);
    expect(m.retryAfter('a')).toBeGreaterThanOrEqual(1);
  });
});
