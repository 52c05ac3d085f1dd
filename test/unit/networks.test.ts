// Networks within networks: a token's allowed CIDRs inside its owner's.
import { describe, expect, it } from 'vitest';
import { cidrsWithin } from '../../src/platform/networks';

describe('cidrsWithin', () => {
  it('holds a network inside one of the outer ones, of the same family', () => {
    expect(cidrsWithin(['10.1.0.0/16', '10.2.3.4/32'], ['10.0.0.0/8'])).toBe(true);
    expect(cidrsWithin(['10.0.0.0/7'], ['10.0.0.0/8'])).toBe(false);
    expect(cidrsWithin(['11.0.0.0/16'], ['10.0.0.0/8'])).toBe(false);
    expect(cidrsWithin(['2001:db8:1::/48'], ['2001:db8::/32'])).toBe(true);
    expect(cidrsWithin(['2001:db8::/32'], ['10.0.0.0/8'])).toBe(false);
  });
});
