// Rotation by hand (a new secret now, the old one valid through its grace) and the read of what is
// scheduled, for the rotation preview. Scheduled rotations run in the lifecycle workers, through
// the same transitions (token-transitions.ts).
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { Principal } from '../iam/principal';
import type { ChangeNotifier } from '../platform/change-notifier';
import { groupBy } from '../platform/batch';
import { formatDuration } from '../platform/iso-duration';
import { badInput } from '../platform/errors';
import { TenantScope } from '../platform/tenant-scope';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { graceFor } from '../policies/schedule';
import type { SecretHasher } from './secret-hasher';
import { assertTokenState, filteredTokens, loadToken } from './token-access';
import { assertMayManageControl } from './token-authority';
import type { TokenRow } from './token.entity';
import { toToken } from './token-query';
import { TokenSecretRow } from './token-secret.entity';
import type { Issued } from './token.service';
import { addGenerations } from './token-transitions';
import type { TokenFilter } from './token.types';

const MAX_GRACE_S = 90 * 86_400;

export class TokenRotation {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly hasher: SecretHasher,
    private readonly changes: ChangeNotifier,
  ) {}

  async rotate(p: Principal, id: string, gracePeriod: number | null | undefined): Promise<Issued> {
    if (gracePeriod != null && gracePeriod > MAX_GRACE_S)
      throw badInput('gracePeriod must be at most P90D', { argument: 'gracePeriod' });
    const issued = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const row = await loadToken(scope, p, id, true);
      const now = new Date();
      assertTokenState(row, now, ['ACTIVE'], 'rotated');
      await assertMayManageControl(tx, p, [row], 'rotate a CONTROL token of');
      const policy = row.rotationPolicyId
        ? await scope.get(RotationPolicy, row.rotationPolicyId, 'rotation policy')
        : null;
      const grace = graceFor(gracePeriod, policy);
      const [{ secret, graceEndsAt }] = (await addGenerations(
        tx,
        this.hasher,
        p.tenantId,
        [{ row, grace, policy }],
        now,
      )) as [{ secret: string; graceEndsAt: Date | null }];
      await this.audit.append(tx, p.tenantId, {
        action: 'TOKEN_ROTATED',
        actorId: p.ownerId,
        targetType: 'TOKEN',
        targetId: row.id,
        data: {
          generation: row.generation,
          gracePeriod: formatDuration(grace),
          previousGraceEndsAt: graceEndsAt?.toISOString() ?? null,
          scheduled: false,
        },
      });
      return { token: toToken(row, now), secret };
    });
    await this.changes.tokensChanged([issued.token.id]);
    return issued;
  }

  /**
   * Live tokens the principal may see, matching `filter`, with something scheduled by `end`
   * (`policyId`: only those under that policy), their PREVIOUS secrets and when their CURRENT
   * one was made (the last rotation).
   */
  async scheduled(
    p: Principal,
    filter: TokenFilter | null | undefined,
    end: Date | null,
    limit: number,
    policyId?: string,
  ): Promise<Array<{ row: TokenRow; previous: TokenSecretRow[]; rotatedAt: Date }>> {
    const scope = new TenantScope(this.ds.manager, p.tenantId);
    const qb = filteredTokens(scope, p, filter, new Date()).andWhere(`t.status IN ('ACTIVE', 'SUSPENDED')`);
    if (policyId) qb.andWhere('t.rotationPolicyId = :policyId', { policyId });
    if (end) {
      qb.andWhere(
        `(t.nextRotationAt <= :end OR t.expiresAt <= :end OR t.nextNotifyAt <= :end OR EXISTS (
            SELECT 1 FROM token_secrets s WHERE s.tenant_id = t.tenant_id AND s.token_id = t.id AND s.state = 'PREVIOUS' AND s.grace_ends_at <= :end))`,
        { end },
      );
    }
    const rows = await qb.orderBy('t.id', 'ASC').limit(limit).getMany();
    const secrets = rows.length
      ? await scope
          .select(TokenSecretRow, 's')
          .andWhere(`s.state IN ('PREVIOUS', 'CURRENT') AND s.tokenId = ANY(:ids)`, { ids: rows.map((r) => r.id) })
          .getMany()
      : [];
    const byToken = groupBy(
      rows.map((r) => r.id),
      secrets,
      (x) => x.tokenId,
    );
    return rows.map((row, i) => ({
      row,
      previous: byToken[i]!.filter((x) => x.state === 'PREVIOUS'),
      rotatedAt: byToken[i]!.find((x) => x.state === 'CURRENT')?.createdAt ?? row.createdAt,
    }));
  }
}
