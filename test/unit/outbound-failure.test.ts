// What an outbound failure is called (src/outbound/failure.ts): a category, never the driver's words.
import { describe, expect, it } from 'vitest';
import { OutboundRefused } from '../../src/outbound/address-rules';
import { DeadlineExceeded } from '../../src/outbound/deadline';
import { categoryOf } from '../../src/outbound/failure';

describe('failure categories', () => {
  it('say a refused login, an unreachable server, a refusal by the rules, or a failure, never more', () => {
    expect(
      categoryOf(Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' }), false),
    ).toBe('authentication failed');
    expect(categoryOf(Object.assign(new Error('role "x" does not exist'), { code: '28000' }), false)).toBe(
      'authentication failed',
    );
    expect(categoryOf(new Error('WRONGPASS invalid username-password pair or user is disabled.'), false)).toBe(
      'authentication failed',
    );
    expect(
      categoryOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), false),
    ).toBe('unreachable');
    expect(categoryOf(new DeadlineExceeded(10), true)).toBe('unreachable');
    expect(categoryOf(new Error('Received unexpected byte'), false)).toBe('unreachable');
    expect(categoryOf(new OutboundRefused('no'), false)).toBe('refused by address rules');
    expect(categoryOf(Object.assign(new Error('role "ghost" does not exist'), { code: '42704' }), true)).toBe('failed');
  });
});
