// Restrictions that may not be lifted by someone who could not have set them.
import { describe, expect, it } from 'vitest';
import { loosenedRestrictions } from '../../src/tokens/token-authority';

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
    expect(
      loosenedRestrictions(
        { ...was, rateRequests: 1000, rateWindow: 60 },
        { ...was, rateRequests: 1_440_000, rateWindow: 86_400 },
      ),
    ).toEqual(['rateLimit raised']);
    expect(loosenedRestrictions({ allowedCidrs: null, rateRequests: null, rateWindow: null }, { ...was })).toEqual([]);
  });
});
