// The rotation preview: what the workers will do in a window, and how a policy change would move
// it, expanded from the schedule columns with the planner's own functions.
import type { Principal } from '../iam/principal';
import type { PolicyFields, PolicyService } from '../policies/policy.service';
import { sameSchedule, scheduleFor } from '../policies/schedule';
import type { TokenRow } from '../tokens/token.entity';
import type { TokenSecretRow } from '../tokens/token-secret.entity';
import { toToken } from '../tokens/token-query';
import type { TokenService } from '../tokens/token.service';
import type { TokenFilter } from '../tokens/token.types';
import { badInput } from '../platform/errors';
import type { PlannedAction, PlannedActionKind, RotationPlan, RotationPlanDiff } from './lifecycle.types';
import { compareSteps, diffPlans, expandPlan, type PlanBasis, type PlannedStep } from './plan';

const MAX_WITHIN_S = 366 * 86_400;
const MAX_TOKENS = 10_000;
const MAX_POLICY_TOKENS = 200_000;
const MAX_ACTIONS = 1_000;

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
  constructor(
    private readonly tokens: TokenService,
    private readonly policies: PolicyService,
  ) {}

  async rotationPlan(p: Principal, within: number, filter: TokenFilter | null | undefined, first: number): Promise<RotationPlan> {
    const end = windowEnd(within);
    const limit = Math.min(Math.max(first, 1), MAX_ACTIONS);
    const found = await this.tokens.scheduled(p, filter, end, MAX_TOKENS);
    const policies = new Map((await this.policies.byIds(p.tenantId, [...new Set(found.map((f) => f.row.rotationPolicyId).filter((x): x is string => !!x))])).map((x) => [x.id, x]));
    const steps = found.flatMap(({ row, previous }) => expandPlan(basisOf(row, previous), row.rotationPolicyId ? (policies.get(row.rotationPolicyId) ?? null) : null, end)).sort(compareSteps);
    const rows = new Map(found.map((f) => [f.row.id, f.row]));
    return { within, actions: steps.slice(0, limit).map((s) => actionOf(s, rows)), truncated: steps.length > limit || found.length === MAX_TOKENS };
  }

  /** How changing the policy to `fields` would move what happens within `within`; changes nothing. */
  async policyDiff(p: Principal, policyId: string, fields: PolicyFields, within: number, first: number): Promise<RotationPlanDiff> {
    const end = windowEnd(within);
    const current = await this.policies.get(p, policyId);
    const found = await this.tokens.scheduled(p, null, null, MAX_POLICY_TOKENS, policyId);
    const now = new Date();
    const before: PlannedStep[] = [];
    const after: PlannedStep[] = [];
    let affected = 0;
    for (const { row, previous, rotatedAt } of found) {
      const basis = basisOf(row, previous);
      before.push(...expandPlan(basis, current, end));
      // As the update re-plans (TokenService.replan): an expired token stays expired.
      const next = !row.expiresAt || row.expiresAt > now ? scheduleFor({ ...row, rotatedAt }, fields, now) : null;
      if (next && !sameSchedule(next, row)) affected++;
      after.push(...expandPlan(next ? { ...basis, ...next } : basis, fields, end));
    }
    const { added, removed } = diffPlans(before.sort(compareSteps), after.sort(compareSteps));
    const rows = new Map(found.map((f) => [f.row.id, f.row]));
    const limit = Math.min(Math.max(first, 1), MAX_ACTIONS);
    return {
      within,
      tokens: found.length,
      affectedTokens: affected,
      addedCount: added.length,
      removedCount: removed.length,
      added: added.slice(0, limit).map((s) => actionOf(s, rows)),
      removed: removed.slice(0, limit).map((s) => actionOf(s, rows)),
    };
  }
}

function windowEnd(within: number): Date {
  if (within <= 0 || within > MAX_WITHIN_S) throw badInput('within must be longer than zero and at most P366D', { argument: 'within' });
  return new Date(Date.now() + within * 1000);
}

function actionOf(s: PlannedStep, rows: Map<string, TokenRow>): PlannedAction {
  return { at: s.at, kind: s.kind as PlannedActionKind, tokenId: s.tokenId, token: toToken(rows.get(s.tokenId)!), generation: s.generation, notifyBefore: s.notifyBefore };
}
