// A token's schedule under a policy: expiry, next rotation, grace, expiry warnings, re-planning.
import { describe, expect, it } from 'vitest';
import {
  expiryFor,
  graceFor,
  nextNotifyFor,
  nextRotationFor,
  scheduleFor,
  warningAt,
} from '../../src/policies/schedule';

const at = new Date('2026-01-01T00:00:00Z');

describe('rotation policy rules', () => {
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
    expect(graceFor(0, { gracePeriod: 60 })).toBe(0);
    expect(graceFor(undefined, { gracePeriod: 60 })).toBe(60);
    expect(graceFor(null, null)).toBe(3600);
  });

  const h = (n: number) => new Date(at.getTime() + n * 3_600_000);

  it('plans expiry warnings that are still to come, one per threshold', () => {
    const expiry = h(48);
    expect(nextNotifyFor(expiry, [86_400, 3_600], at)).toEqual(h(24));
    expect(nextNotifyFor(expiry, [86_400, 3_600], h(25))).toEqual(h(47));
    expect(nextNotifyFor(expiry, [86_400, 3_600], h(47.5))).toBeNull();
    expect(nextNotifyFor(null, [86_400], at)).toBeNull();
    // When both thresholds passed unseen, one warning says the most urgent.
    expect(warningAt(expiry, [86_400, 3_600], h(47.5))).toBe(3_600);
    expect(warningAt(expiry, [86_400, 3_600], h(30))).toBe(86_400);
    expect(warningAt(expiry, [86_400], h(1))).toBeNull();
  });

  it('re-plans from issue and last rotation, without repeating warnings already sent', () => {
    const policy = { rotateEvery: 7_200, gracePeriod: 60, expireAfter: 86_400, notifyBefore: [43_200, 3_600] };
    const basis = { createdAt: at, requestedExpiresAt: null, rotatedAt: h(1), expiresAt: h(24), nextNotifyAt: h(23) };
    // The 12 h warning was sent (nextNotifyAt moved on to the 1 h one): same expiry, no resend.
    expect(scheduleFor(basis, policy, h(13))).toEqual({ expiresAt: h(24), nextRotationAt: h(3), nextNotifyAt: h(23) });
    // A longer lifetime moves the expiry: warnings start again from now.
    expect(scheduleFor(basis, { ...policy, expireAfter: 172_800 }, h(13))).toEqual({
      expiresAt: h(48),
      nextRotationAt: h(3),
      nextNotifyAt: h(36),
    });
    // An explicit expiry asked for at issue still caps it; no policy: no rotation, no warnings.
    expect(scheduleFor({ ...basis, requestedExpiresAt: h(10) }, null, h(2))).toEqual({
      expiresAt: h(10),
      nextRotationAt: null,
      nextNotifyAt: null,
    });
  });
});
