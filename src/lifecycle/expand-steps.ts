// What will happen to a token in a window, expanded from its schedule columns with the same
// functions the workers use after each action: the rotation preview and policy dry runs.
import { graceFor, nextNotifyFor, nextRotationFor, type Policy } from '../policies/schedule';
import { PlannedActionKind } from './lifecycle.types';

/** The four kinds of scheduled action: one enum, the API's, for the preview and the workers' steps alike. */
export type ActionKind = PlannedActionKind;

export interface PlannedStep {
  at: Date;
  kind: ActionKind;
  tokenId: string;
  /** ROTATE: the generation it creates; RETIRE: the generation it retires. */
  generation: number | null;
  /** NOTIFY: how long before expiry the warning is sent, in seconds. */
  notifyBefore: number | null;
}

export interface PlanBasis {
  id: string;
  status: string;
  generation: number;
  expiresAt: Date | null;
  nextRotationAt: Date | null;
  nextNotifyAt: Date | null;
  /** PREVIOUS secrets still in their grace period. */
  previous: Array<{ generation: number; graceEndsAt: Date }>;
}

const KIND_ORDER: Record<ActionKind, number> = { RETIRE: 0, ROTATE: 1, NOTIFY: 2, EXPIRE: 3 };
const MAX_STEPS_PER_TOKEN = 500;

export function compareSteps(a: PlannedStep, b: PlannedStep): number {
  return (
    a.at.getTime() - b.at.getTime() || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.tokenId.localeCompare(b.tokenId)
  );
}

/** Everything due for one token up to `end` (overdue steps included), in order. */
export function expandPlan(t: PlanBasis, policy: Policy | null, end: Date): PlannedStep[] {
  const steps: PlannedStep[] = [];
  const push = (at: Date, kind: ActionKind, generation: number | null = null, notifyBefore: number | null = null) => {
    if (at <= end && steps.length < MAX_STEPS_PER_TOKEN)
      steps.push({ at, kind, tokenId: t.id, generation, notifyBefore });
  };
  const live = t.status === 'ACTIVE' || t.status === 'SUSPENDED';
  if (!live) return steps;
  for (const p of t.previous) push(p.graceEndsAt, PlannedActionKind.RETIRE, p.generation);
  // Rotations run for ACTIVE tokens only; a suspended token's rotation waits for its resumption.
  if (t.status === 'ACTIVE') {
    const grace = graceFor(null, policy);
    let generation = t.generation;
    for (
      let at = t.nextRotationAt;
      at && at <= end && steps.length < MAX_STEPS_PER_TOKEN;
      at = nextRotationFor(at, t.expiresAt, policy)
    ) {
      generation += 1;
      push(at, PlannedActionKind.ROTATE, generation);
      if (grace > 0) push(new Date(at.getTime() + grace * 1000), PlannedActionKind.RETIRE, generation - 1);
    }
  }
  if (t.expiresAt) {
    const notifyBefore = policy?.notifyBefore ?? [];
    for (
      let at = t.nextNotifyAt;
      at && at <= end;
      at = nextNotifyFor(t.expiresAt, notifyBefore, new Date(at.getTime() + 1))
    ) {
      push(at, PlannedActionKind.NOTIFY, null, (t.expiresAt.getTime() - at.getTime()) / 1000);
    }
    push(t.expiresAt, PlannedActionKind.EXPIRE);
  }
  // Nothing happens to a token after it expires.
  return steps.filter((s) => !t.expiresAt || s.at <= t.expiresAt).sort(compareSteps);
}

const stepKey = (s: PlannedStep) =>
  `${s.kind}/${s.tokenId}/${s.at.getTime()}/${s.generation ?? ''}/${s.notifyBefore ?? ''}`;

/** Steps in `after` but not in `before`, and the other way round. */
export function diffPlans(
  before: PlannedStep[],
  after: PlannedStep[],
): { added: PlannedStep[]; removed: PlannedStep[] } {
  const had = new Set(before.map(stepKey));
  const has = new Set(after.map(stepKey));
  return { added: after.filter((s) => !had.has(stepKey(s))), removed: before.filter((s) => !has.has(stepKey(s))) };
}
