import { describe, expect, it } from 'vitest';
import { LocalRecordCache, sameRecord } from '../../src/verify/record-cache';
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
  kind: 'CONTROL',
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

  it('drops a fill that began before the cache was cleared', () => {
    const c = new LocalRecordCache(cfg, () => true);
    const now = Date.now();
    const epoch = c.beginFill();
    c.clear();
    c.set('a', record('tok'), epoch, now);
    expect(c.get('a', now)).toBeUndefined();
    c.set('a', record('tok'), c.beginFill(), now);
    expect(c.get('a', now)).toMatchObject({ tokenId: 'tok' });
  });

  it('hands out for a re-read, once each, the entries used since their fill, spread over half to nine tenths of their life', () => {
    const c = new LocalRecordCache(cfg, () => true); // a 60 s life: due between 30 and 54 s
    for (let i = 0; i < 1000; i++) c.set(`h${i}`, record(`t${i}`), c.beginFill(), 0);
    for (let i = 0; i < 1000; i += 2) c.get(`h${i}`, 1_000);
    expect(c.takeDue(29_000)).toEqual([]);
    const early = c.takeDue(40_000);
    // Due times are spread: about 11 in 24 of the used entries are due by 40 s (before 41 s: slots are a second).
    expect(early.length).toBeGreaterThan(150);
    expect(early.length).toBeLessThan(330);
    const late = c.takeDue(55_000);
    const taken = [...early, ...late];
    expect(new Set(taken).size).toBe(taken.length);
    expect(taken.sort()).toEqual(Array.from({ length: 500 }, (_, i) => `h${2 * i}`).sort()); // the unused ones are left to expire
    expect(c.takeDue(59_000)).toEqual([]); // each once
  });

  it('a re-read gives the entry a new life, unless its token changed meanwhile or the entry is gone', () => {
    const c = new LocalRecordCache(cfg, () => true);
    for (const h of ['a', 'b', 'c', 'e']) c.set(h, record(`tok-${h}`), c.beginFill(), 0);
    const original = c.get('a', 1);
    const epoch = c.beginFill();
    c.invalidate(['tok-b']);
    c.set('b', record('tok-b'), c.beginFill(), 40_000); // a request filled it again after the change
    c.renew('a', record('tok-a'), epoch, 50_000);
    c.renew('b', record('tok-b'), epoch, 50_000); // read before the change: not written
    c.renew('c', null, epoch, 50_000); // the secret is gone
    c.renew('d', record('tok-d'), epoch, 50_000); // never cached (or evicted): not brought back
    c.renew('e', { ...record('tok-e'), scopes: ['crm:read'] }, epoch, 50_000); // changed
    expect(c.get('a', 109_999)).toBe(original); // unchanged: the same record lives on
    expect(c.get('e', 109_999)).toMatchObject({ tokenId: 'tok-e', scopes: ['crm:read'] });
    expect(c.get('b', 99_999)).toMatchObject({ tokenId: 'tok-b' });
    expect(c.get('b', 100_000)).toBeUndefined(); // the life of the fill after the change, not of the re-read
    expect(c.get('c', 50_000)).toBeUndefined();
    expect(c.get('d', 50_000)).toBeUndefined();
    // Once renewed, the entry is due again in its new life (80 to 104 s), if used.
    expect(c.takeDue(79_000)).toEqual([]);
    expect(c.takeDue(105_000).sort()).toEqual(['a', 'e']);
  });

  it('compares records by value', () => {
    expect(sameRecord(record('a'), record('a'))).toBe(true);
    expect(sameRecord(record('a'), record('b'))).toBe(false);
    expect(sameRecord({ ...record('a'), scopes: ['x', 'y'] }, { ...record('a'), scopes: ['x', 'y'] })).toBe(true);
    expect(sameRecord({ ...record('a'), scopes: ['x', 'y'] }, { ...record('a'), scopes: ['x'] })).toBe(false);
    expect(
      sameRecord(
        { ...record('a'), rateLimit: { requests: 5, per: 60 } },
        { ...record('a'), rateLimit: { requests: 5, per: 1 } },
      ),
    ).toBe(false);
    expect(sameRecord({ ...record('a'), rateLimit: { requests: 5, per: 60 } }, record('a'))).toBe(false);
    expect(sameRecord({ ...record('a'), kind: 'DATA' }, record('a'))).toBe(false);
  });

  it('keeps no due time for an entry that is gone', () => {
    const small = new LocalRecordCache({ ...cfg, cacheMaxEntries: 10 }, () => true);
    for (let i = 0; i < 10_000; i++) small.set(`h${i}`, record(`t${i}`), small.beginFill(), i);
    small.invalidate(['t9999']);
    const due = (small as unknown as { dueBySlot: Map<number, Set<string>> }).dueBySlot;
    const scheduled = () => [...due.values()].reduce((n, s) => n + s.size, 0);
    expect(scheduled()).toBe(9); // the nine left, not the 9,991 evicted or invalidated
    small.clear();
    expect(scheduled()).toBe(0);
  });

  it('remembers unknown secrets briefly', () => {
    const c = new LocalRecordCache(cfg, () => true);
    c.set('nope', null, c.beginFill(), Date.now());
    expect(c.get('nope', Date.now())).toBeNull();
    expect(c.get('other', Date.now())).toBeUndefined();
  });
});
