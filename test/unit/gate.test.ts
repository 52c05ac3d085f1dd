import { describe, expect, it } from 'vitest';
import { Gate } from '../../src/platform/gate';

describe('Gate', () => {
  it('runs at most `running` at once, the rest in turn, and refuses past `waiting`', async () => {
    const gate = new Gate(2, 1, 'tests');
    let active = 0;
    let most = 0;
    const waiting: Array<() => void> = [];
    const work = () =>
      gate.run(async () => {
        most = Math.max(most, ++active);
        await new Promise<void>((r) => waiting.push(r));
        active--;
        return 'done';
      });
    const runs = Promise.all([work(), work(), work()]);
    await expect(work()).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { retryAfter: 5 } });
    // Let each started piece of work finish; the one waiting starts when a place is free.
    for (let finished = 0; finished < 3;) {
      await new Promise((r) => setTimeout(r, 1));
      const ready = waiting.splice(0);
      ready.forEach((release) => release());
      finished += ready.length;
    }
    expect(await runs).toEqual(['done', 'done', 'done']);
    expect(most).toBe(2);
  });
});
