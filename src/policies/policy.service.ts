// Rotation policies: what should happen to the tokens under them, and when.
import type { DataSource, EntityManager } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { Principal } from '../iam/principal';
import { isUniqueViolation, type Tx } from '../platform/db';
import { formatDuration } from '../platform/iso-duration';
import { badInput, conflict } from '../platform/errors';
import { requireId, uuidv7 } from '../platform/ids';
import { assertBelowQuota, QUOTAS } from '../platform/quotas';
import { TenantScope } from '../platform/tenant-scope';
import type { ChangeNotifier } from '../platform/change-notifier';
import { validRateLimit } from './rate-limit';
import { ReuseAction, RotationPolicy } from './rotation-policy.entity';
import type { PolicyUsage, RotationPolicyInput } from './policy.types';
import { assertHoldsPowerOf } from '../iam/owner-power';

const MIN_INTERVAL_S = 60;
const MAX_GRACE_S = 90 * 86_400;

/** The schedules of the tokens under a policy, planned again when it changes (tokens/ keeps them). */
export interface PolicySchedules {
  /** Re-plans the live tokens under the policy in the caller's transaction: their ids, and those whose schedule moved. */
  replan(
    tx: Tx,
    tenantId: string,
    policyId: string,
    policy: RotationPolicy,
    now: Date,
  ): Promise<{ live: string[]; replanned: string[] }>;
}

export type PolicyFields = Pick<
  RotationPolicy,
  'name' | 'rotateEvery' | 'gracePeriod' | 'expireAfter' | 'notifyBefore' | 'rateRequests' | 'rateWindow' | 'onReuse'
>;

/** Validates and normalises a policy input: the rules a policy must satisfy to make sense. */
export function normalisePolicy(input: RotationPolicyInput): PolicyFields {
  const name = input.name.trim();
  if (!name) throw badInput('name must not be empty', { argument: 'name' });
  const rotateEvery = input.rotateEvery ?? null;
  const expireAfter = input.expireAfter ?? null;
  const { gracePeriod } = input;
  if (rotateEvery !== null && rotateEvery < MIN_INTERVAL_S)
    throw badInput('rotateEvery must be at least PT1M', { argument: 'rotateEvery' });
  if (expireAfter !== null && expireAfter < MIN_INTERVAL_S)
    throw badInput('expireAfter must be at least PT1M', { argument: 'expireAfter' });
  if (gracePeriod > MAX_GRACE_S) throw badInput('gracePeriod must be at most P90D', { argument: 'gracePeriod' });
  if (rotateEvery !== null && gracePeriod < MIN_INTERVAL_S) {
    throw badInput(
      'gracePeriod must be at least PT1M when rotateEvery is set: consumers pick up a scheduled successor with the previous secret during the grace period',
      {
        argument: 'gracePeriod',
      },
    );
  }
  if (rotateEvery !== null && gracePeriod >= rotateEvery) {
    throw badInput(
      `gracePeriod (${formatDuration(gracePeriod)}) must be shorter than rotateEvery (${formatDuration(rotateEvery)}): a secret's grace would outlive the next rotation`,
      { argument: 'gracePeriod' },
    );
  }
  const notifyBefore = [...new Set(input.notifyBefore ?? [])].sort((a, b) => b - a);
  for (const n of notifyBefore) {
    if (n <= 0) throw badInput('notifyBefore durations must be longer than zero', { argument: 'notifyBefore' });
    if (expireAfter !== null && n >= expireAfter) {
      throw badInput(
        `notifyBefore ${formatDuration(n)} is not shorter than expireAfter (${formatDuration(expireAfter)})`,
        { argument: 'notifyBefore' },
      );
    }
  }
  const rate = input.rateLimit ? validRateLimit(input.rateLimit) : null;
  const onReuse = input.onReuse ?? ReuseAction.NOTIFY;
  return {
    name,
    rotateEvery,
    gracePeriod,
    expireAfter,
    notifyBefore,
    rateRequests: rate?.requests ?? null,
    rateWindow: rate?.per ?? null,
    onReuse,
  };
}

/** The fields of a policy as the API and the audit log show them. */
export function describePolicy(p: PolicyFields): Record<string, unknown> {
  return {
    name: p.name,
    rotateEvery: p.rotateEvery === null ? null : formatDuration(p.rotateEvery),
    gracePeriod: formatDuration(p.gracePeriod),
    expireAfter: p.expireAfter === null ? null : formatDuration(p.expireAfter),
    notifyBefore: p.notifyBefore.map(formatDuration),
    rateLimit: p.rateRequests && p.rateWindow ? { requests: p.rateRequests, per: formatDuration(p.rateWindow) } : null,
    onReuse: p.onReuse,
  };
}

export class PolicyService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly changes: ChangeNotifier,
    private readonly schedules: PolicySchedules,
  ) {}

  async list(p: Principal): Promise<RotationPolicy[]> {
    return new TenantScope(this.ds.manager, p.tenantId)
      .select(RotationPolicy, 'rp')
      .orderBy('rp.name', 'ASC')
      .getMany();
  }

  async get(p: Principal, id: string): Promise<RotationPolicy> {
    requireId(id);
    return new TenantScope(this.ds.manager, p.tenantId).get(RotationPolicy, id, 'rotation policy');
  }

  async create(p: Principal, input: RotationPolicyInput): Promise<RotationPolicy> {
    const fields = normalisePolicy(input);
    return this.ds.transaction(async (tx) => {
      await assertBelowQuota(
        tx,
        'rotation policies',
        QUOTAS.rotationPolicies,
        'rotation_policies WHERE tenant_id = $1',
        [p.tenantId],
      );
      const now = new Date();
      const policy: RotationPolicy = { id: uuidv7(), tenantId: p.tenantId, ...fields, createdAt: now, updatedAt: now };
      try {
        await new TenantScope(tx, p.tenantId).insert(RotationPolicy, [policy]);
      } catch (e) {
        if (isUniqueViolation(e))
          throw conflict(`rotation policy ${JSON.stringify(fields.name)} already exists`, { name: fields.name });
        throw e;
      }
      await this.audit.append(tx, p.tenantId, {
        action: 'POLICY_CREATED',
        actorId: p.ownerId,
        targetType: 'ROTATION_POLICY',
        targetId: policy.id,
        data: describePolicy(policy),
      });
      return policy;
    });
  }

  async update(p: Principal, id: string, input: RotationPolicyInput): Promise<RotationPolicy> {
    requireId(id);
    const fields = normalisePolicy(input);
    const { policy, tokenIds } = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const current = await scope.get(RotationPolicy, id, 'rotation policy', true);
      const before = describePolicy(current);
      const after = describePolicy(fields);
      if (JSON.stringify(before) === JSON.stringify(after)) return { policy: current, tokenIds: [] };
      // A policy is a restriction on every token under it: changing it changes CONTROL tokens of
      // their owners, which takes what changing them one by one takes (iam/owner-power.ts).
      const owners: Array<{ owner_id: string }> = await tx.query(
        `SELECT DISTINCT owner_id FROM tokens WHERE tenant_id = $1 AND rotation_policy_id = $2 AND kind = 'CONTROL' AND status <> 'REVOKED'`,
        [p.tenantId, id],
      );
      await assertHoldsPowerOf(
        tx,
        p,
        owners.map((o) => o.owner_id),
        'change the policy that governs a CONTROL token of',
      );
      const now = new Date();
      const updated: RotationPolicy = { ...current, ...fields, updatedAt: now };
      try {
        await scope.update(RotationPolicy, id, { ...fields, updatedAt: updated.updatedAt });
      } catch (e) {
        if (isUniqueViolation(e))
          throw conflict(`rotation policy ${JSON.stringify(fields.name)} already exists`, { name: fields.name });
        throw e;
      }
      // Its tokens are re-planned in the same transaction: the planner sees the new schedule or the old, never half.
      const { live, replanned } = await this.schedules.replan(tx, p.tenantId, id, updated, now);
      await this.audit.append(tx, p.tenantId, {
        action: 'POLICY_UPDATED',
        actorId: p.ownerId,
        targetType: 'ROTATION_POLICY',
        targetId: id,
        data: { before, after, replannedTokens: replanned.length },
      });
      // Its live tokens verify differently now (their rate limit comes from it); the others fail anyway.
      return { policy: updated, tokenIds: live };
    });
    await this.changes.tokensChanged(tokenIds);
    return policy;
  }

  /** Deletes a policy no live token is under and no credential is timed by; revoked and expired tokens are detached from it. */
  async delete(p: Principal, id: string): Promise<boolean> {
    requireId(id);
    return this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const policy = await scope.get(RotationPolicy, id, 'rotation policy', true);
      const [{ liveTokens, credentials }] = await policyUsage(tx, p.tenantId, [id]);
      if (liveTokens > 0 || credentials > 0) {
        throw conflict(
          `rotation policy ${JSON.stringify(policy.name)} still governs ${liveTokens} live token(s) and times the warnings of ${credentials} credential(s)`,
          { tokens: liveTokens, credentials },
        );
      }
      await tx.query(`UPDATE tokens SET rotation_policy_id = NULL WHERE tenant_id = $1 AND rotation_policy_id = $2`, [
        p.tenantId,
        id,
      ]);
      await tx.query(`DELETE FROM rotation_policies WHERE tenant_id = $1 AND id = $2`, [p.tenantId, id]);
      await this.audit.append(tx, p.tenantId, {
        action: 'POLICY_DELETED',
        actorId: p.ownerId,
        targetType: 'ROTATION_POLICY',
        targetId: id,
        data: describePolicy(policy),
      });
      return true;
    });
  }

  /** What holds each policy: what delete refuses over, in the order of ids. */
  usage(tenantId: string, ids: readonly string[]): Promise<PolicyUsage[]> {
    return policyUsage(this.ds.manager, tenantId, ids);
  }

  async byIds(tenantId: string, ids: readonly string[]): Promise<RotationPolicy[]> {
    return new TenantScope(this.ds.manager, tenantId).findByIds(RotationPolicy, ids);
  }
}

async function policyUsage(m: EntityManager, tenantId: string, ids: readonly string[]): Promise<PolicyUsage[]> {
  return m.query(
    `SELECT (SELECT count(*) FROM tokens t WHERE t.tenant_id = $1 AND t.rotation_policy_id = p.id AND t.status IN ('ACTIVE', 'SUSPENDED'))::int AS "liveTokens",
            (SELECT count(*) FROM credentials c WHERE c.tenant_id = $1 AND c.rotation_policy_id = p.id)::int AS credentials
       FROM unnest($2::uuid[]) WITH ORDINALITY AS p(id, n) ORDER BY p.n`,
    [tenantId, ids],
  );
}
