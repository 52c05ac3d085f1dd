import { describe, expect, it } from 'vitest';
import { LocalRecordCache } from '../../src/verify/record-cache';
import type { SecretRecord } from '../../src/verify/verdict';

const cfg = {
  cacheMaxEntries: 1000,
  cacheMaxBytes: 1_000_000,
  cacheTtlMs: 60_000,
  changePollMs: 1000,
  staleAfterMs: 3000,
  permissionsTtlMs: 5000,
  negativeTtlMs: 2000,
  negativeMaxEntries: 100,
  sharedTtlMs: 60_000,
};

const record = (tokenId: string): SecretRecord => ({
  tokenId,
  tenantId: 't',
  ownerId: 'o',
  secretState: 'CURRENT',
  graceEndsAt: null,
  tokenStatus: 'ACTIVE',
  expiresAt: null,
  scopes: [],
  version: 1,
  createdAt: 0,
  rateLimit: null,
  allowedCidrs: null,
});

describe('in-process record cache', () => {
  it('drops a fill that began before an invalidation of its token', () => {
    const c = new LocalRecordCache(cfg, () => true);
    const now = Date.now();
    const epoch = c.beginFill();
    c.invalidate(['tok1']);
    c.set('h1', record('tok1'), epoch, now);
    expect(c.get('h1', now)).toBeUndefined();
    // A fill that began after the invalidation is kept; other tokens are unaffected.
    c.set('h1', record('tok1'), c.beginFill(), now);
    c.set('h2', record('tok2'), epoch, now);
    expect(c.get('h1', now)).toMatchObject({ tokenId: 'tok1' });
    expect(c.get('h2', now)).toMatchObject({ tokenId: 'tok2' });
  });

  it('invalidating a token drops every hash it was cached under', () => {
    const c = new LocalRecordCache(cfg, () => true);
    const now = Date.now();
    c.set('a', record('tok'), c.beginFill(), now);
    c.set('b', record('tok'), c.beginFill(), now);
    c.invalidate(['tok']);
    expect(c.get('a', now)).toBeUndefined();
    expect(c.get('b', now)).toBeUndefined();
  });

  it('is bypassed while it cannot be sure it saw every change', () => {
    let trusted = true;
    const c = new LocalRecordCache(cfg, () => trusted);
    const now = Date.now();
    c.set('a', record('tok'), c.beginFill(), now);
    trusted = false;
    expect(c.get('a', now)).toBeUndefined();
    trusted = true;
    expect(c.get('a', now)).toMatchObject({ tokenId: 'tok' });
  });

  it('never keeps an entry past the layer it came from, nor past its TTL', () => {
    const c = new LocalRecordCache(cfg, () => true);
    const now = Date.now();
    c.set('a', record('tok'), c.beginFill(), now, now + 10);
    expect(c.get('a', now + 5)).toBeDefined();
    expect(c.get('a', now + 11)).toBeUndefined();
    c.set('b', record('tok'), c.beginFill(), now);
    expect(c.get('b', now + 60_001)).toBeUndefined();
  });

  it('asks once for a re-read between half and nine tenths of an entry\'s life, answering from it until it expires', () => {
    const c = new LocalRecordCache(cfg, () => true);
    const due: string[] = [];
    c.onRefreshDue((hash) => due.push(hash));
    c.set('a', record('tok'), c.beginFill(), 0); // lives until 60,000
    expect(c.get('a', 29_999)).toMatchObject({ tokenId: 'tok' });
    expect(due).toEqual([]);
    expect(c.get('a', 54_000)).toMatchObject({ tokenId: 'tok' });
    expect(due).toEqual(['a']);
    expect(c.get('a', 59_999)).toMatchObject({ tokenId: 'tok' });
    expect(due).toEqual(['a']); // not again while the re-read is under way
    expect(c.get('a', 60_000)).toBeUndefined(); // a re-read that never came back: it expires as before
    // The re-read's fill replaces the entry, with a life and a due time of its own.
    c.set('b', record('tok2'), c.beginFill(), 0);
    c.get('b', 54_000);
    c.set('b', record('tok2'), c.beginFill(), 55_000);
    expect(c.get('b', 84_999)).toMatchObject({ tokenId: 'tok2' });
    expect(due).toEqual(['a', 'b']);
    expect(c.get('b', 109_000)).toMatchObject({ tokenId: 'tok2' });
    expect(due).toEqual(['a', 'b', 'b']);
  });

  it('spreads the re-reads of entries filled together', () => {
    const c = new LocalRecordCache(cfg, () => true);
    const due = new Set<string>();
    c.onRefreshDue((hash) => due.add(hash));
    for (let i = 0; i < 1000; i++) c.set(`h${i}`, record(`t${i}`), c.beginFill(), 0);
    for (let i = 0; i < 1000; i++) c.get(`h${i}`, 40_000);
    // Due times are drawn from 30,000–54,000: about 400 of 1,000 are due at 40,000.
    expect(due.size).toBeGreaterThan(250);
    expect(due.size).toBeLessThan(550);
  });

  it('drops an entry whose re-read finds the secret gone', () => {
    const c = new LocalRecordCache(cfg, () => true);
    c.set('a', record('tok'), c.beginFill(), 0);
    c.set('a', null, c.beginFill(), 1000);
    expect(c.get('a', 1000)).toBeNull(); // remembered as unknown, no longer as the token
  });

  it('remembers unknown secrets briefly', () => {
    const c = new LocalRecordCache(cfg, () => true);
    c.set('nope', null, c.beginFill(), Date.now());
    expect(c.get('nope', Date.now())).toBeNull();
    expect(c.get('other', Date.now())).toBeUndefined();
  });
});
