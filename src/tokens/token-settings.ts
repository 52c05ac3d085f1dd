// A token's settings: name, description, labels, rate limit, networks, requested expiry and its
// rotation policy. Loosening a restriction someone else set needs their power (token-authority.ts).
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { Principal } from '../iam/principal';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { validRateLimit } from '../policies/rate-limit';
import { scheduleFor } from '../policies/schedule';
import type { ChangeNotifier } from '../platform/change-notifier';
import type { Tx } from '../platform/db';
import { badInput } from '../platform/errors';
import { requireId } from '../platform/ids';
import { validateLabels } from '../platform/labels';
import { parseCidrs } from '../platform/networks';
import { TenantScope } from '../platform/tenant-scope';
import { assertTokenState, loadToken } from './token-access';
import {
  assertMayLoosen,
  assertMayManageControl,
  lockIfSetByOther,
  loosenedRestrictions,
  type Restrictions,
} from './token-authority';
import { TokenRow } from './token.entity';
import { toToken } from './token-query';
import { replanSchedules, scheduledTokens } from './token-transitions';
import type { Token, UpdateTokenInput } from './token.types';

export class TokenSettings {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly changes: ChangeNotifier,
  ) {}

  async update(p: Principal, id: string, input: UpdateTokenInput): Promise<Token> {
    const rateLimit = input.rateLimit ? validRateLimit(input.rateLimit) : input.rateLimit;
    const allowedCidrs = input.allowedCidrs ? parseCidrs(input.allowedCidrs) : input.allowedCidrs;
    const token = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const row = await loadToken(scope, p, id, true);
      const was: Restrictions = {
        allowedCidrs: row.allowedCidrs,
        rateRequests: row.rateRequests,
        rateWindow: row.rateWindow,
      };
      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      const change = <K extends 'name' | 'description' | 'labels' | 'rateRequests' | 'rateWindow' | 'allowedCidrs'>(
        key: K,
        value: TokenRow[K],
      ) => {
        if (JSON.stringify(value) === JSON.stringify(row[key])) return;
        before[key] = row[key];
        after[key] = value;
        row[key] = value;
      };
      if (input.name != null) {
        const name = input.name.trim();
        if (!name) throw badInput('name must not be empty', { argument: 'name' });
        change('name', name);
      }
      if (input.description != null) change('description', input.description || null);
      if (input.labels != null) change('labels', validateLabels(input.labels));
      // For the limit and the networks, an explicit null clears.
      if (rateLimit !== undefined) {
        change('rateRequests', rateLimit?.requests ?? null);
        change('rateWindow', rateLimit?.per ?? null);
      }
      if (allowedCidrs !== undefined) change('allowedCidrs', allowedCidrs);
      if (input.expiresAt != null) await this.setRequestedExpiry(tx, row, input.expiresAt, before, after);
      if (Object.keys(after).length === 0) return toToken(row);
      await assertMayManageControl(tx, p, [row], 'change a CONTROL token of');
      const loosened = loosenedRestrictions(was, row);
      if (loosened.length > 0) assertMayLoosen(p, row, loosened);
      if ('rateRequests' in after || 'allowedCidrs' in after) lockIfSetByOther(p, row);
      row.updatedAt = new Date();
      await scope.update(TokenRow, row.id, {
        name: row.name,
        description: row.description,
        labels: row.labels,
        rateRequests: row.rateRequests,
        rateWindow: row.rateWindow,
        allowedCidrs: row.allowedCidrs,
        restrictionsLocked: row.restrictionsLocked,
        requestedExpiresAt: row.requestedExpiresAt,
        expiresAt: row.expiresAt,
        nextRotationAt: row.nextRotationAt,
        nextNotifyAt: row.nextNotifyAt,
        updatedAt: row.updatedAt,
      });
      await this.audit.append(tx, p.tenantId, {
        action: 'TOKEN_UPDATED',
        actorId: p.ownerId,
        targetType: 'TOKEN',
        targetId: row.id,
        data: { before, after },
      });
      return toToken(row);
    });
    await this.changes.tokensChanged([token.id]);
    return token;
  }

  async setPolicy(p: Principal, id: string, policyId: string | null | undefined): Promise<Token> {
    const token = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const row = await loadToken(scope, p, id, true);
      const now = new Date();
      assertTokenState(row, now, ['ACTIVE', 'SUSPENDED'], 'given a policy');
      const policy = policyId
        ? await scope.get(RotationPolicy, requireId(policyId, 'rotationPolicyId'), 'rotation policy')
        : null;
      if ((policy?.id ?? null) === row.rotationPolicyId) return toToken(row, now);
      await assertMayManageControl(tx, p, [row], 'change a CONTROL token of');
      if (row.rotationPolicyId)
        assertMayLoosen(p, row, [policy ? 'the rotation policy replaced' : 'the rotation policy detached']);
      if (policy) lockIfSetByOther(p, row);
      const before = {
        rotationPolicyId: row.rotationPolicyId,
        expiresAt: row.expiresAt,
        nextRotationAt: row.nextRotationAt,
      };
      const [basis] = await scheduledTokens(tx, row.tenantId, 't.id = $2', [row.id]);
      row.rotationPolicyId = policy?.id ?? null;
      row.updatedAt = now;
      await scope.update(TokenRow, row.id, {
        rotationPolicyId: row.rotationPolicyId,
        restrictionsLocked: row.restrictionsLocked,
        updatedAt: now,
      });
      if (basis && (await replanSchedules(tx, row.tenantId, [basis], policy, now)).length > 0)
        Object.assign(row, scheduleFor(basis, policy, now));
      const after = {
        rotationPolicyId: row.rotationPolicyId,
        expiresAt: row.expiresAt,
        nextRotationAt: row.nextRotationAt,
      };
      await this.audit.append(tx, p.tenantId, {
        action: 'TOKEN_POLICY_SET',
        actorId: p.ownerId,
        targetType: 'TOKEN',
        targetId: row.id,
        data: { before: jsonDates(before), after: jsonDates(after) },
      });
      return toToken(row, now);
    });
    await this.changes.tokensChanged([token.id]);
    return token;
  }

  /**
   * A new requested expiry. The token never stops working later than it does now (that would
   * lift a limit someone set), but a request the policy's lifetime already cuts short may change.
   * The token, its rotation and its warnings are scheduled again from it. Used to retire a
   * replaced token after an overlap instead of revoking it at once.
   */
  private async setRequestedExpiry(
    tx: Tx,
    row: TokenRow,
    expiresAt: Date,
    before: Record<string, unknown>,
    after: Record<string, unknown>,
  ): Promise<void> {
    const now = new Date();
    if (expiresAt.getTime() <= now.getTime())
      throw badInput('expiresAt must be in the future', { argument: 'expiresAt' });
    if (row.requestedExpiresAt?.getTime() === expiresAt.getTime()) return;
    const policy = row.rotationPolicyId
      ? await new TenantScope(tx, row.tenantId).get(RotationPolicy, row.rotationPolicyId, 'rotation policy')
      : null;
    const [basis] = await scheduledTokens(tx, row.tenantId, 't.id = $2', [row.id]);
    const schedule = scheduleFor({ ...basis!, requestedExpiresAt: expiresAt }, policy, now);
    if (row.expiresAt && schedule.expiresAt!.getTime() > row.expiresAt.getTime()) {
      throw badInput(
        `expiresAt would make the token work past ${row.expiresAt.toISOString()}, when it expires now: an expiry never moves later (issue a new token instead)`,
        { argument: 'expiresAt' },
      );
    }
    before.requestedExpiresAt = row.requestedExpiresAt?.toISOString() ?? null;
    after.requestedExpiresAt = expiresAt.toISOString();
    before.expiresAt = row.expiresAt?.toISOString() ?? null;
    after.expiresAt = schedule.expiresAt?.toISOString() ?? null;
    row.requestedExpiresAt = expiresAt;
    Object.assign(row, schedule);
  }
}

function jsonDates(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
}
