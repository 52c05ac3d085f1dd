// Fair shares of outbound work between tenants.
import { describe, expect, it } from 'vitest';
import { TenantSlots } from '../../src/outbound/tenant-slots';

describe('fair shares', () => {
  it('let a tenant hold at most its share of slots, and give them back', () => {
    const slots = new TenantSlots(2);
    expect([slots.take('a'), slots.take('a'), slots.take('a'), slots.take('b')]).toEqual([true, true, false, true]);
    slots.give('a');
    expect(slots.take('a')).toBe(true);
  });
});
