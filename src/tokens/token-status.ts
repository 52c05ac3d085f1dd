// A token's status, changed by a person: suspend, resume, revoke one or many. Each change is one
// transaction ending with its audit event; the caches hear of it after the commit.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { Principal } from '../iam/principal';
import type { ChangeNotifier } from '../platform/change-notifier';
import type { Tx } from '../platform/db';
import { badInput, conflict } from '../platform/errors';
import { TenantScope } from '../platform/tenant-scope';
import { assertTokenState, filteredTokens, loadToken } from './token-access';
import { assertMayManageControl } from './token-authority';
import { TokenRow } from './token.entity';
import { isEmptyFilter, toToken } from './token-query';
import { revokeTokenRows } from './token-transitions';
import type { Token, TokenFilter } from './token.types';

function reasonOf(reason: string): string {
  const r = reason.trim();
  if (!r || r.length > 500) throw badInput('reason must be 1-500 characters', { argument: 'reason' });
  return r;
}

export class TokenStatusChanges {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly changes: ChangeNotifier,
  ) {}

  async revoke(p: Principal, id: string, reason: string): Promise<Token> {
    const why = reasonOf(reason);
    const token = await this.ds.transaction(async (tx) => {
      const row = await loadToken(new TenantScope(tx, p.tenantId), p, id, true);
      if (row.status === 'REVOKED') throw conflict(`token ${JSON.stringify(id)} is already revoked`, { id });
      await assertMayManageControl(tx, p, [row], 'revoke a CONTROL token of');
      const now = new Date();
      await this.revokeRows(tx, p.tenantId, [row.id], why, now, p.ownerId, false);
      return toToken(Object.assign(row, revokedFields(why, now)), now);
    });
    await this.changes.tokensChanged([token.id]);
    return token;
  }

  async revokeMany(p: Principal, filter: TokenFilter, reason: string): Promise<{ count: number; tokenIds: string[] }> {
    const why = reasonOf(reason);
    if (isEmptyFilter(filter))
      throw badInput('the filter must have at least one condition: revoking every token needs one', {
        argument: 'filter',
      });
    const result = await this.ds.transaction(async (tx) => {
      const now = new Date();
      const matches = await filteredTokens(new TenantScope(tx, p.tenantId), p, filter, now)
        .andWhere(`t.status <> 'REVOKED'`)
        .orderBy('t.id', 'ASC')
        .setLock('pessimistic_write')
        .getMany();
      const ids = matches.map((t) => t.id);
      if (ids.length === 0) return { count: 0, tokenIds: [] };
      await assertMayManageControl(tx, p, matches, 'revoke CONTROL tokens of');
      await this.revokeRows(tx, p.tenantId, ids, why, now, p.ownerId, true);
      return { count: ids.length, tokenIds: ids };
    });
    await this.changes.tokensChanged(result.tokenIds);
    return result;
  }

  /**
   * Marks tokens and all their live secrets REVOKED, drops any successor waiting for pickup, and
   * appends one TOKEN_REVOKED per token (actor null: Latchkey itself decided).
   */
  async revokeRows(
    tx: Tx,
    tenantId: string,
    ids: string[],
    reason: string,
    now: Date,
    actorId: string | null,
    bulk: boolean,
  ): Promise<void> {
    await revokeTokenRows(tx, tenantId, ids, reason, now);
    await this.audit.append(
      tx,
      tenantId,
      ids.map((id) => ({
        action: 'TOKEN_REVOKED',
        actorId,
        targetType: 'TOKEN',
        targetId: id,
        data: { reason, bulk },
      })),
    );
  }

  async suspend(p: Principal, id: string, reason: string): Promise<Token> {
    const why = reasonOf(reason);
    return this.changeStatus(p, id, 'ACTIVE', 'SUSPENDED', 'TOKEN_SUSPENDED', why);
  }

  async resume(p: Principal, id: string): Promise<Token> {
    return this.changeStatus(p, id, 'SUSPENDED', 'ACTIVE', 'TOKEN_RESUMED', null);
  }

  private async changeStatus(
    p: Principal,
    id: string,
    from: 'ACTIVE' | 'SUSPENDED',
    to: 'ACTIVE' | 'SUSPENDED',
    action: 'TOKEN_SUSPENDED' | 'TOKEN_RESUMED',
    reason: string | null,
  ): Promise<Token> {
    const token = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const row = await loadToken(scope, p, id, true);
      const now = new Date();
      assertTokenState(row, now, [from], to === 'SUSPENDED' ? 'suspended' : 'resumed');
      await assertMayManageControl(tx, p, [row], `${to === 'SUSPENDED' ? 'suspend' : 'resume'} a CONTROL token of`);
      Object.assign(row, { status: to, suspendedReason: reason, updatedAt: now });
      await scope.update(TokenRow, row.id, { status: to, suspendedReason: reason, updatedAt: now });
      await this.audit.append(tx, p.tenantId, {
        action,
        actorId: p.ownerId,
        targetType: 'TOKEN',
        targetId: row.id,
        data: reason ? { reason } : {},
      });
      return toToken(row, now);
    });
    await this.changes.tokensChanged([token.id]);
    return token;
  }
}

function revokedFields(reason: string, now: Date) {
  return {
    status: 'REVOKED' as const,
    revokedAt: now,
    revokedReason: reason,
    nextRotationAt: null,
    nextNotifyAt: null,
    updatedAt: now,
  };
}
