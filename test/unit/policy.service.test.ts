// A rotation policy as the service keeps it: normalised, or refused naming the argument.
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/platform/errors';
import { normalisePolicy } from '../../src/policies/policy.service';

describe('rotation policy rules', () => {
  it('normalises: trims the name, sorts and de-duplicates warnings', () => {
    expect(
      normalisePolicy({
        name: ' weekly ',
        rotateEvery: 604_800,
        gracePeriod: 3600,
        expireAfter: 7_776_000,
        notifyBefore: [86_400, 604_800, 86_400],
      }),
    ).toEqual({
      name: 'weekly',
      rotateEvery: 604_800,
      gracePeriod: 3600,
      expireAfter: 7_776_000,
      notifyBefore: [604_800, 86_400],
      rateRequests: null,
      rateWindow: null,
      onReuse: 'NOTIFY',
    });
  });

  it.each([
    [{ name: 'x', rotateEvery: 30, gracePeriod: 0 }, 'rotateEvery'],
    [{ name: 'x', rotateEvery: 3600, gracePeriod: 3600 }, 'gracePeriod'],
    [{ name: 'x', rotateEvery: 3600, gracePeriod: 0 }, 'gracePeriod'],
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
});
