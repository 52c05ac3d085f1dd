import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, parseDuration } from '../../src/platform/iso-duration';

describe('durations', () => {
  it.each([
    ['PT0S', 0],
    ['PT1S', 1],
    ['PT12H', 43_200],
    ['P30D', 2_592_000],
    ['P1DT6H', 108_000],
    ['P2W', 1_209_600],
    ['P1DT2H3M4S', 93_784],
  ])('parses %s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', 'P', 'PT', '30D', 'P1Y', 'P1M', 'PT1.5S', 'P-1D', 'P1DT', 'p1d', 'P99999999D'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(DurationError);
  });

  it('formats canonically and round-trips', () => {
    expect(formatDuration(0)).toBe('PT0S');
    expect(formatDuration(108_000)).toBe('P1DT6H');
    expect(formatDuration(2_592_000)).toBe('P30D');
    expect(formatDuration(61)).toBe('PT1M1S');
    for (const s of [1, 59, 3600, 86_399, 86_400, 1_000_000]) expect(parseDuration(formatDuration(s))).toBe(s);
  });
});
