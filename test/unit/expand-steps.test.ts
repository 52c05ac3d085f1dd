// A token's plan expanded into its steps, and two plans compared.
import { describe, expect, it } from 'vitest';
import { diffPlans, expandPlan } from '../../src/lifecycle/expand-steps';

const at = new Date('2026-01-01T00:00:00Z');

describe('rotation policy rules', () => {
  const h = (n: number) => new Date(at.getTime() + n * 3_600_000);

  it('expands a plan in order and diffs two of them', () => {
    const policy = { rotateEvery: 3_600, gracePeriod: 600, expireAfter: null, notifyBefore: [7_200] };
    const token = {
      id: 't1',
      status: 'ACTIVE',
      generation: 3,
      expiresAt: h(3),
      nextRotationAt: h(1),
      nextNotifyAt: h(1),
      previous: [{ generation: 2, graceEndsAt: h(0.5) }],
    };
    const steps = expandPlan(token, policy, h(10));
    expect(steps.map((s) => [s.kind, (s.at.getTime() - at.getTime()) / 60_000, s.generation])).toEqual([
      ['RETIRE', 30, 2],
      ['ROTATE', 60, 4],
      ['NOTIFY', 60, null],
      ['RETIRE', 70, 3],
      ['ROTATE', 120, 5],
      ['RETIRE', 130, 4],
      ['EXPIRE', 180, null],
    ]);
    expect(expandPlan({ ...token, status: 'REVOKED' }, policy, h(10))).toEqual([]);
    const slower = expandPlan({ ...token, nextRotationAt: h(2) }, { ...policy, rotateEvery: 7_200 }, h(10));
    const { added, removed } = diffPlans(steps, slower);
    expect(added.map((s) => s.kind)).toEqual(['ROTATE', 'RETIRE']);
    expect(removed.map((s) => s.kind)).toEqual(['ROTATE', 'RETIRE', 'ROTATE', 'RETIRE']);
  });
});
