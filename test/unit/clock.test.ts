import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/clock';

describe('Clock', () => {
  it('runs every task at each tick in order, a slower one only when its time has come, and a failure holds none of the others', async () => {
    const ran: string[] = [];
    const clock = new Clock(
      [
        { name: 'a', run: async () => (ran.push('a'), 1) },
        { name: 'broken', run: async () => Promise.reject(new Error('down')) },
        { name: 'slow', everyMs: 1_000, run: async () => (ran.push('slow'), 2) },
      ],
      pino({ level: 'silent' }),
    );
    expect(await clock.tick(10_000)).toEqual({ a: 1, broken: { failed: true }, slow: 2 });
    expect(await clock.tick(10_500)).toEqual({ a: 1, broken: { failed: true } });
    expect(await clock.tick(11_000)).toEqual({ a: 1, broken: { failed: true }, slow: 2 });
    expect(ran).toEqual(['a', 'slow', 'a', 'a', 'slow']);
  });
});
