import { describe, expect, it } from 'vitest';
import { normalisePolicy } from '../../src/policies/policy.service';
import { expiryFor, graceFor, nextRotationFor } from '../../src/policies/schedule';
import { DomainError } from '../../src/platform/errors';

const at = new Date('2026-01-01T00:00:00Z');

describe('rotation policy rules', () => {
  it('normalises: trims the name, sorts and de-duplicates warnings', () => {
    expect(normalisePolicy({ name: ' weekly ', rotateEvery: 604_800, gracePeriod: 3600, expireAfter: 7_776_000, notifyBefore: [86_400, 604_800, 86_400] })).toEqual({
      name: 'weekly',
      rotateEvery: 604_800,
      gracePeriod: 3600,
      expireAfter: 7_776_000,
      notifyBefore: [604_800, 86_400],
      rateRequests: null,
      rateWindow: null,
    });
  });

  it.each([
    [{ name: 'x', rotateEvery: 30, gracePeriod: 0 }, 'rotateEvery'],
    [{ name: 'x', rotateEvery: 3600, gracePeriod: 3600 }, 'gracePeriod'],
    [{ name: 'x', gracePeriod: 100 * 86_400 }, 'gracePeriod'],
    [{ name: 'x', gracePeriod: 0, expireAfter: 86_400, notifyBefore: [86_400] }, 'notifyBefore'],
    [{ name: 'x', gracePeriod: 0, notifyBefore: [0] }, 'notifyBefore'],
    [{ name: '  ', gracePeriod: 0 }, 'name'],
  ])('refuses %j naming %s', (input, argument) => {
    try {
      normalisePolicy(input);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).code).toBe('BAD_USER_INPUT');
      expect((e as DomainError).details.argument).toBe(argument);
    }
  });

  it('caps an explicit expiry with the policy lifetime', () => {
    const policy = { rotateEvery: null, gracePeriod: 0, expireAfter: 86_400 };
    expect(expiryFor(at, null, policy)).toEqual(new Date('2026-01-02T00:00:00Z'));
    expect(expiryFor(at, new Date('2026-01-01T12:00:00Z'), policy)).toEqual(new Date('2026-01-01T12:00:00Z'));
    expect(expiryFor(at, new Date('2026-02-01T00:00:00Z'), policy)).toEqual(new Date('2026-01-02T00:00:00Z'));
    expect(expiryFor(at, null, null)).toBeNull();
  });

  it('plans the next rotation only before expiry', () => {
    const policy = { rotateEvery: 3600, gracePeriod: 60, expireAfter: null };
    expect(nextRotationFor(at, null, policy)).toEqual(new Date('2026-01-01T01:00:00Z'));
    expect(nextRotationFor(at, new Date('2026-01-01T00:30:00Z'), policy)).toBeNull();
    expect(nextRotationFor(at, null, null)).toBeNull();
  });

  it('takes grace from the call, then the policy, then one hour', () => {
    expect(graceFor(0, { rotateEvery: null, gracePeriod: 60, expireAfter: null })).toBe(0);
    expect(graceFor(undefined, { rotateEvery: null, gracePeriod: 60, expireAfter: null })).toBe(60);
    expect(graceFor(null, null)).toBe(3600);
  });
});
