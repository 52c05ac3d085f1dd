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

  it('remembers unknown secrets briefly', () => {
    const c = new LocalRecordCache(cfg, () => true);
    c.set('nope', null, c.beginFill(), Date.now());
    expect(c.get('nope', Date.now())).toBeNull();
    expect(c.get('other', Date.now())).toBeUndefined();
  });
});
