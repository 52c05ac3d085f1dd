// The rotation preview: what the workers will do in a window, and how a policy change would move
// it, expanded from the schedule columns with the planner's own functions.
import type { Principal } from '../iam/principal';
import type { PolicyFields, PolicyService } from '../policies/policy.service';
import { sameSchedule, scheduleFor } from '../policies/schedule';
import type { TokenRow } from '../tokens/token.entity';
import type { TokenSecretRow } from '../tokens/token-secret.entity';
import { toToken } from '../tokens/token-query';
import type { TokenRotation } from '../tokens/token-rotation';
import type { TokenFilter } from '../tokens/token.types';
import { badInput } from '../platform/errors';
import { Gate } from '../platform/gate';
import { TimeSlice } from '../platform/time-slice';
import { MAX_PLANNED_ACTIONS, type PlannedAction, type RotationPlan, type RotationPlanDiff } from './lifecycle.types';
import { compareSteps, diffPlans, expandPlan, type PlanBasis, type PlannedStep } from './expand-steps';

const MAX_WITHIN_S = 366 * 86_400;
const MAX_TOKENS = 10_000;
const MAX_POLICY_TOKENS = 200_000;
const HORIZON_START_MS = 3_600_000;
/** Most steps one policy dry run expands, both sides together; past it the counts are lower bounds. */
const MAX_DIFF_STEPS = 2_000_000;

const basisOf = (row: TokenRow, previous: TokenSecretRow[]): PlanBasis => ({
  id: row.id,
  status: row.status,
  generation: row.generation,
  expiresAt: row.expiresAt,
  nextRotationAt: row.nextRotationAt,
  nextNotifyAt: row.nextNotifyAt,
  previous: previous.map((s) => ({ generation: s.generation, graceEndsAt: s.graceEndsAt! })),
});

export class LifecyclePreview {
  /** Previews take turns, two at a time per process: they are CPU, and everyone else's requests wait on it. */
  private readonly gate = new Gate(2, 32, 'previews and dry runs');

  constructor(
    private readonly tokens: TokenRotation,
    private readonly policies: PolicyService,
  ) {}

  /**
   * The first `first` actions due within `within`. The work is bounded by the page asked for, not by
   * the window: steps are expanded up to a horizon that starts an hour out and doubles until it
   * holds more than a page (or reaches the window's end), so a year of daily rotations over
   * thousands of tokens is never expanded to answer for the next few.
   */
  rotationPlan(
    p: Principal,
    within: number,
    filter: TokenFilter | null | undefined,
    first: number,
  ): Promise<RotationPlan> {
    const end = windowEnd(within);
    return this.gate.run(() => this.plan(p, within, end, filter, first));
  }

  private async plan(
    p: Principal,
    within: number,
    end: Date,
    filter: TokenFilter | null | undefined,
    first: number,
  ): Promise<RotationPlan> {
    const limit = Math.min(Math.max(first, 1), MAX_PLANNED_ACTIONS);
    const found = await this.tokens.scheduled(p, filter, end, MAX_TOKENS);
    const policies = new Map(
      (
        await this.policies.byIds(p.tenantId, [
          ...new Set(found.map((f) => f.row.rotationPolicyId).filter((x): x is string => !!x)),
        ])
      ).map((x) => [x.id, x]),
    );
    const bases = found.map(({ row, previous }) => ({
      basis: basisOf(row, previous),
      policy: row.rotationPolicyId ? (policies.get(row.rotationPolicyId) ?? null) : null,
    }));
    const now = Date.now();
    const slice = new TimeSlice();
    let steps: PlannedStep[] = [];
    for (let span = HORIZON_START_MS; ; span *= 2) {
      const horizon = new Date(Math.min(end.getTime(), now + span));
      steps = [];
      for (const { basis, policy } of bases) {
        steps.push(...expandPlan(basis, policy, horizon));
        await slice.yield();
      }
      if (steps.length > limit || horizon.getTime() === end.getTime()) break;
    }
    steps.sort(compareSteps);
    const rows = new Map(found.map((f) => [f.row.id, f.row]));
    return {
      within,
      actions: steps.slice(0, limit).map((s) => actionOf(s, rows)),
      truncated: steps.length > limit || found.length === MAX_TOKENS,
    };
  }

  /** How changing the policy to `fields` would move what happens within `within`; changes nothing. */
  policyDiff(
    p: Principal,
    policyId: string,
    fields: PolicyFields,
    within: number,
    first: number,
  ): Promise<RotationPlanDiff> {
    const end = windowEnd(within);
    return this.gate.run(() => this.diff(p, policyId, fields, within, end, first));
  }

  private async diff(
    p: Principal,
    policyId: string,
    fields: PolicyFields,
    within: number,
    end: Date,
    first: number,
  ): Promise<RotationPlanDiff> {
    const current = await this.policies.get(p, policyId);
    const found = await this.tokens.scheduled(p, null, null, MAX_POLICY_TOKENS, policyId);
    const now = new Date();
    const limit = Math.min(Math.max(first, 1), MAX_PLANNED_ACTIONS);
    // Token by token, keeping only the earliest page of each side: memory bounded by the page.
    const added = new EarliestSteps(limit);
    const removed = new EarliestSteps(limit);
    let affected = 0;
    let expanded = 0;
    const slice = new TimeSlice();
    for (const { row, previous, rotatedAt } of found) {
      if (expanded > MAX_DIFF_STEPS) break;
      await slice.yield();
      const basis = basisOf(row, previous);
      // As the update re-plans (replanSchedules): an expired token stays expired.
      const next = !row.expiresAt || row.expiresAt > now ? scheduleFor({ ...row, rotatedAt }, fields, now) : null;
      if (next && !sameSchedule(next, row)) affected++;
      const [before, after] = [
        expandPlan(basis, current, end),
        expandPlan(next ? { ...basis, ...next } : basis, fields, end),
      ];
      expanded += before.length + after.length;
      const diff = diffPlans(before, after);
      added.add(diff.added);
      removed.add(diff.removed);
    }
    const rows = new Map(found.map((f) => [f.row.id, f.row]));
    return {
      within,
      tokens: found.length,
      affectedTokens: affected,
      addedCount: added.count,
      removedCount: removed.count,
      truncated: expanded > MAX_DIFF_STEPS,
      added: added.earliest().map((s) => actionOf(s, rows)),
      removed: removed.earliest().map((s) => actionOf(s, rows)),
    };
  }
}

/** Counts steps and keeps the earliest `limit` of them, in order. */
class EarliestSteps {
  count = 0;
  private kept: PlannedStep[] = [];

  constructor(private readonly limit: number) {}

  add(steps: PlannedStep[]): void {
    this.count += steps.length;
    this.kept.push(...steps);
    if (this.kept.length > 2 * this.limit) this.kept = this.kept.sort(compareSteps).slice(0, this.limit);
  }

  earliest(): PlannedStep[] {
    return this.kept.sort(compareSteps).slice(0, this.limit);
  }
}

function windowEnd(within: number): Date {
  if (within <= 0 || within > MAX_WITHIN_S)
    throw badInput('within must be longer than zero and at most P366D', { argument: 'within' });
  return new Date(Date.now() + within * 1000);
}

function actionOf(s: PlannedStep, rows: Map<string, TokenRow>): PlannedAction {
  return {
    at: s.at,
    kind: s.kind,
    tokenId: s.tokenId,
    token: toToken(rows.get(s.tokenId)!),
    generation: s.generation,
    notifyBefore: s.notifyBefore,
  };
}
