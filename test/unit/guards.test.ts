// Pure guards of the security work: restrictions that may not be lifted, networks within networks,
// hostile text, client addresses behind proxies, and the per-address budget of unknown credentials.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { findHostileText } from '../../src/platform/hostile-input';
import { ClientAddresses } from '../../src/platform/http';
import { cidrsWithin } from '../../src/platform/networks';
import { loosenedRestrictions } from '../../src/tokens/token-authority';
import { KeyedBuckets } from '../../src/platform/keyed-buckets';

describe('cidrsWithin', () => {
  it('holds a network inside one of the outer ones, of the same family', () => {
    expect(cidrsWithin(['10.1.0.0/16', '10.2.3.4/32'], ['10.0.0.0/8'])).toBe(true);
    expect(cidrsWithin(['10.0.0.0/7'], ['10.0.0.0/8'])).toBe(false);
    expect(cidrsWithin(['11.0.0.0/16'], ['10.0.0.0/8'])).toBe(false);
    expect(cidrsWithin(['2001:db8:1::/48'], ['2001:db8::/32'])).toBe(true);
    expect(cidrsWithin(['2001:db8::/32'], ['10.0.0.0/8'])).toBe(false);
  });
});

describe('loosenedRestrictions', () => {
  const was = { allowedCidrs: ['10.0.0.0/8'], rateRequests: 100, rateWindow: 60 };
  it('names what a change lifts or widens, and nothing for a tightening', () => {
    expect(loosenedRestrictions(was, { ...was, allowedCidrs: null })).toEqual(['allowedCidrs widened']);
    expect(loosenedRestrictions(was, { ...was, rateRequests: null, rateWindow: null })).toEqual(['rateLimit raised']);
    expect(loosenedRestrictions(was, { ...was, rateWindow: 30 })).toEqual(['rateLimit raised']);
    expect(loosenedRestrictions(was, { allowedCidrs: ['10.1.0.0/16'], rateRequests: 50, rateWindow: 60 })).toEqual([]);
    expect(loosenedRestrictions(was, { ...was, rateRequests: 100, rateWindow: 120 })).toEqual([]);
    // The same average over a longer window allows a larger burst: that is raising it too.
    expect(loosenedRestrictions(was, { ...was, rateRequests: 200, rateWindow: 120 })).toEqual(['rateLimit raised']);
    expect(loosenedRestrictions({ ...was, rateRequests: 1000, rateWindow: 60 }, { ...was, rateRequests: 1_440_000, rateWindow: 86_400 })).toEqual(['rateLimit raised']);
    expect(loosenedRestrictions({ allowedCidrs: null, rateRequests: null, rateWindow: null }, { ...was })).toEqual([]);
  });
});

describe('findHostileText', () => {
  it('finds NUL, unpaired surrogates and secrets, in keys too, with the path', () => {
    expect(findHostileText({ a: ['ok', 'x\u0000'] }, 'input')).toMatchObject({ path: 'input.a[1]' });
    expect(findHostileText('\ud83d\ude00 paired', 'name')).toBeNull();
    expect(findHostileText('\ud83d alone', 'name')).toMatchObject({ path: 'name' });
    expect(findHostileText({ ['k\udc00']: 'v' }, 'labels')?.path).toBe('labels (a key)');
    expect(findHostileText(`lk_${'a'.repeat(49)}`, 'reason')?.problem).toMatch(/secret/);
    expect(findHostileText(`lk_${'a'.repeat(49)}`, 'secret', true)).toBeNull();
    expect(findHostileText({ name: 'a\u001b[2J' }, 'input')).toMatchObject({ path: 'input.name', problem: expect.stringContaining('U+001B') });
    expect(findHostileText('line\nbreak', 'input.value')).toBeNull(); // a credential's value is for a program
    // Invisible characters that make one name pass for another.
    for (const c of ['\u200b', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u200e']) expect(findHostileText(`ad${c}min`, 'name'), c).toMatchObject({ path: 'name' });
    expect(findHostileText({ value: 'x\u202e' }, 'input.labels')?.path).toBe('input.labels.value');
  });
});

describe('ClientAddresses', () => {
  const req = (peer: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress: peer }, headers }) as unknown as IncomingMessage;
  it('believes forwarding headers from trusted proxies only, taking the rightmost untrusted hop', () => {
    const none = new ClientAddresses([]);
    expect(none.of(req('198.51.100.1', { 'x-forwarded-for': '10.0.0.1' }))).toBe('198.51.100.1');
    const trusted = new ClientAddresses(['127.0.0.1', '10.0.0.0/8']);
    expect(trusted.of(req('::ffff:127.0.0.1', { 'x-forwarded-for': '203.0.113.5, 10.1.1.1' }))).toBe('203.0.113.5');
    expect(trusted.of(req('127.0.0.1', { 'x-forwarded-for': '203.0.113.5, 192.0.2.9' }))).toBe('192.0.2.9');
    expect(trusted.of(req('127.0.0.1', { 'x-real-ip': '203.0.113.7' }))).toBe('203.0.113.7');
    expect(trusted.of(req('127.0.0.1', { 'x-forwarded-for': 'not-an-ip' }))).toBe('127.0.0.1');
    expect(trusted.of(req('198.51.100.1', { 'x-real-ip': '10.1.1.1' }))).toBe('198.51.100.1');
  });
});

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
