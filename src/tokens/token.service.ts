// The token core: issue, read, suspend, resume, revoke (one or in bulk), update and set a policy.
// Every change is one transaction that ends with its audit event. Rotation by hand is in
// token-rotation.ts, the state transitions themselves in token-transitions.ts.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { type Principal, tokenOwnerRestriction } from '../iam/principal';
import { Owner } from '../owners/owner.entity';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { scheduleFor } from '../policies/schedule';
import type { Scope } from '../scopes/scope.entity';
import type { ScopeService } from '../scopes/scope.service';
import type { ChangeNotifier } from '../platform/change-notifier';
import type { Tx } from '../platform/db';
import { badInput, conflict, forbidden } from '../platform/errors';
import { decodeCursor, requireId, uuidv7 } from '../platform/ids';
import { type Connection, connection, pageSize } from '../platform/pagination';
import { TenantScope } from '../platform/tenant-scope';
import { validateLabels } from '../platform/labels';
import { parseCidrs } from '../platform/networks';
import type { SecretHasher } from './secret-hasher';
import { assertTokenState, filteredTokens, loadToken } from './token-access';
import { assertMayLoosen, assertMayManageControl, lockIfSetByOther, loosenedRestrictions, type Restrictions } from './token-authority';
import { validRateLimit } from '../policies/rate-limit';
import { TokenScopeRow } from '../scopes/scope-links.entity';
import { type TokenKindValue, TokenRow } from './token.entity';
import { TokenSecretRow } from './token-secret.entity';
import { isEmptyFilter, toToken } from './token-query';
import { replanSchedules, revokeTokenRows, scheduledTokens } from './token-transitions';
import { type IssueTokenInput, type Token, type TokenFilter, TokenKind, TokenStatus, type UpdateTokenInput } from './token.types';

export interface NewToken {
  ownerId: string;
  kind: TokenKindValue;
  name: string;
  description: string | null;
  labels: Record<string, string>;
  scopes: Scope[];
  expiresAt: Date | null;
  policy: RotationPolicy | null;
  rateLimit?: { requests: number; per: number } | null;
  allowedCidrs?: string[] | null;
}

export interface Issued {
  token: Token;
  secret: string;
}

function reasonOf(reason: string): string {
  const r = reason.trim();
  if (!r || r.length > 500) throw badInput('reason must be 1-500 characters', { argument: 'reason' });
  return r;
}

export class TokenService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly scopes: ScopeService,
    private readonly hasher: SecretHasher,
    private readonly changes: ChangeNotifier,
  ) {}

  /**
   * Inserts a token and its first secret without permission checks (callers check). Returns
   * the plaintext, which exists nowhere else.
   */
  async insert(tx: Tx, tenantId: string, actorId: string | null, t: NewToken): Promise<Issued> {
    const scope = new TenantScope(tx, tenantId);
    const now = new Date();
    // The same schedule a re-plan computes: expiry from issue, rotation from now, warnings to come.
    const restricted = !!(t.allowedCidrs || t.rateLimit || t.policy);
    const schedule = scheduleFor({ createdAt: now, requestedExpiresAt: t.expiresAt, rotatedAt: now, expiresAt: null, nextNotifyAt: null }, t.policy, now);
    const row: TokenRow = {
      id: uuidv7(now.getTime()),
      tenantId,
      ownerId: t.ownerId,
      name: t.name,
      description: t.description,
      labels: t.labels,
      status: 'ACTIVE',
      kind: t.kind,
      restrictionsLocked: restricted && actorId !== t.ownerId,
      generation: 1,
      rotationPolicyId: t.policy?.id ?? null,
      ...schedule,
      requestedExpiresAt: t.expiresAt,
      createdAt: now,
      updatedAt: now,
      suspendedReason: null,
      revokedAt: null,
      revokedReason: null,
      version: 1,
      rateRequests: t.rateLimit?.requests ?? null,
      rateWindow: t.rateLimit?.per ?? null,
      allowedCidrs: t.allowedCidrs ?? null,
    };
    await scope.insert(TokenRow, [row]);
    await scope.insert(TokenScopeRow, t.scopes.map((s) => ({ tokenId: row.id, scopeId: s.id })));
    const minted = this.hasher.mint();
    await scope.insert(TokenSecretRow, [
      { id: uuidv7(), tokenId: row.id, generation: 1, hash: minted.hash, hint: minted.hint, state: 'CURRENT', createdAt: now, graceEndsAt: null, endedAt: null },
    ]);
    await this.audit.append(tx, tenantId, {
      action: 'TOKEN_ISSUED',
      actorId,
      targetType: 'TOKEN',
      targetId: row.id,
      data: {
        name: row.name,
        ownerId: row.ownerId,
        kind: row.kind,
        scopes: t.scopes.map((s) => s.name),
        labels: row.labels,
        expiresAt: row.expiresAt?.toISOString() ?? null,
        rotationPolicyId: row.rotationPolicyId,
        rateLimit: t.rateLimit ?? null,
        allowedCidrs: row.allowedCidrs,
        generation: 1,
        hint: minted.hint,
      },
    });
    return { token: toToken(row, now), secret: minted.secret };
  }

  async issue(p: Principal, input: IssueTokenInput): Promise<Issued> {
    const ownerId = requireId(input.ownerId, 'ownerId');
    const restrictedTo = tokenOwnerRestriction(p);
    if (restrictedTo && restrictedTo !== ownerId) {
      throw forbidden('you may issue tokens only for yourself: TOKEN_ALL_OWNERS is needed for other owners');
    }
    const name = input.name.trim();
    if (!name) throw badInput('name must not be empty', { argument: 'name' });
    const kind = input.kind ?? (input.scopes.length === 0 ? TokenKind.CONTROL : TokenKind.DATA);
    if (kind === TokenKind.CONTROL && input.scopes.length > 0) {
      throw badInput('a CONTROL token carries no API scopes: issue a DATA token for the APIs', { argument: 'scopes' });
    }
    const labels = validateLabels(input.labels, 'labels');
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
      throw badInput('expiresAt must be in the future', { argument: 'expiresAt' });
    }
    const rateLimit = input.rateLimit ? validRateLimit(input.rateLimit) : null;
    const allowedCidrs = input.allowedCidrs ? parseCidrs(input.allowedCidrs) : null;
    return this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      await scope.get(Owner, ownerId, 'owner');
      await assertMayManageControl(tx, p, [{ kind, ownerId }], 'issue a CONTROL token for');
      const policy = input.rotationPolicyId
        ? await scope.get(RotationPolicy, requireId(input.rotationPolicyId, 'rotationPolicyId'), 'rotation policy')
        : null;
      const scopes = await this.scopes.resolve(scope, input.scopes, 'scopes');
      const ceiling = await this.scopes.ceilingOf(scope, ownerId);
      const outside = scopes.filter((s) => !ceiling.has(s.id)).map((s) => s.name);
      if (outside.length > 0) {
        throw forbidden(`scopes outside the owner's ceiling: ${outside.join(', ')}`, { scopes: outside });
      }
      return this.insert(tx, p.tenantId, p.ownerId, {
        ownerId,
        kind,
        name,
        description: input.description ?? null,
        labels,
        scopes,
        expiresAt: input.expiresAt ?? null,
        policy,
        rateLimit,
        allowedCidrs,
      });
    });
  }

  async get(p: Principal, id: string): Promise<Token> {
    return toToken(await loadToken(new TenantScope(this.ds.manager, p.tenantId), p, id));
  }

  /** Oldest first (ids are UUIDv7: creation order), or newest first. */
  async list(p: Principal, filter: TokenFilter | null | undefined, first: number | null | undefined, after: string | null | undefined, newestFirst = false): Promise<Connection<Token>> {
    const limit = pageSize(first);
    const now = new Date();
    const qb = filteredTokens(new TenantScope(this.ds.manager, p.tenantId), p, filter, now);
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere(newestFirst ? 't.id < :after' : 't.id > :after', { after: requireId(decodeCursor(after), 'after') });
    const rows = await qb.orderBy('t.id', newestFirst ? 'DESC' : 'ASC').limit(limit + 1).getMany();
    return connection(rows, limit, totalCount, (r) => r.id, (r) => toToken(r, now));
  }

  /**
   * A new requested expiry. The token never stops working later than it does now (that would
   * lift a limit someone set), but a request the policy's lifetime already cuts short may change.
   * The token, its rotation and its warnings are scheduled again from it. Used to retire a
   * replaced token after an overlap instead of revoking it at once.
   */
  private async setRequestedExpiry(tx: Tx, row: TokenRow, expiresAt: Date, before: Record<string, unknown>, after: Record<string, unknown>): Promise<void> {
    const now = new Date();
    if (expiresAt.getTime() <= now.getTime()) throw badInput('expiresAt must be in the future', { argument: 'expiresAt' });
    if (row.requestedExpiresAt?.getTime() === expiresAt.getTime()) return;
    const policy = row.rotationPolicyId ? await new TenantScope(tx, row.tenantId).get(RotationPolicy, row.rotationPolicyId, 'rotation policy') : null;
    const [basis] = await scheduledTokens(tx, row.tenantId, 't.id = $2', [row.id]);
    const schedule = scheduleFor({ ...basis!, requestedExpiresAt: expiresAt }, policy, now);
    if (row.expiresAt && schedule.expiresAt!.getTime() > row.expiresAt.getTime()) {
      throw badInput(`expiresAt would make the token work past ${row.expiresAt.toISOString()}, when it expires now: an expiry never moves later (issue a new token instead)`, { argument: 'expiresAt' });
    }
    before.requestedExpiresAt = row.requestedExpiresAt?.toISOString() ?? null;
    after.requestedExpiresAt = expiresAt.toISOString();
    before.expiresAt = row.expiresAt?.toISOString() ?? null;
    after.expiresAt = schedule.expiresAt?.toISOString() ?? null;
    row.requestedExpiresAt = expiresAt;
    Object.assign(row, schedule);
  }

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
    if (isEmptyFilter(filter)) throw badInput('the filter must have at least one condition: revoking every token needs one', { argument: 'filter' });
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
  async revokeRows(tx: Tx, tenantId: string, ids: string[], reason: string, now: Date, actorId: string | null, bulk: boolean): Promise<void> {
    await revokeTokenRows(tx, tenantId, ids, reason, now);
    await this.audit.append(
      tx,
      tenantId,
      ids.map((id) => ({ action: 'TOKEN_REVOKED', actorId, targetType: 'TOKEN', targetId: id, data: { reason, bulk } })),
    );
  }

  async suspend(p: Principal, id: string, reason: string): Promise<Token> {
    const why = reasonOf(reason);
    return this.changeStatus(p, id, 'ACTIVE', 'SUSPENDED', 'TOKEN_SUSPENDED', why);
  }

  async resume(p: Principal, id: string): Promise<Token> {
    return this.changeStatus(p, id, 'SUSPENDED', 'ACTIVE', 'TOKEN_RESUMED', null);
  }

  private async changeStatus(p: Principal, id: string, from: 'ACTIVE' | 'SUSPENDED', to: 'ACTIVE' | 'SUSPENDED', action: 'TOKEN_SUSPENDED' | 'TOKEN_RESUMED', reason: string | null): Promise<Token> {
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

  async update(p: Principal, id: string, input: UpdateTokenInput): Promise<Token> {
    const rateLimit = input.rateLimit ? validRateLimit(input.rateLimit) : input.rateLimit;
    const allowedCidrs = input.allowedCidrs ? parseCidrs(input.allowedCidrs) : input.allowedCidrs;
    const token = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const row = await loadToken(scope, p, id, true);
      const was: Restrictions = { allowedCidrs: row.allowedCidrs, rateRequests: row.rateRequests, rateWindow: row.rateWindow };
      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      const change = <K extends 'name' | 'description' | 'labels' | 'rateRequests' | 'rateWindow' | 'allowedCidrs'>(key: K, value: TokenRow[K]) => {
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
      const policy = policyId ? await scope.get(RotationPolicy, requireId(policyId, 'rotationPolicyId'), 'rotation policy') : null;
      if ((policy?.id ?? null) === row.rotationPolicyId) return toToken(row, now);
      await assertMayManageControl(tx, p, [row], 'change a CONTROL token of');
      if (row.rotationPolicyId) assertMayLoosen(p, row, [policy ? 'the rotation policy replaced' : 'the rotation policy detached']);
      if (policy) lockIfSetByOther(p, row);
      const before = { rotationPolicyId: row.rotationPolicyId, expiresAt: row.expiresAt, nextRotationAt: row.nextRotationAt };
      const [basis] = await scheduledTokens(tx, row.tenantId, 't.id = $2', [row.id]);
      row.rotationPolicyId = policy?.id ?? null;
      row.updatedAt = now;
      await scope.update(TokenRow, row.id, { rotationPolicyId: row.rotationPolicyId, restrictionsLocked: row.restrictionsLocked, updatedAt: now });
      if (basis && (await replanSchedules(tx, row.tenantId, [basis], policy, now)).length > 0) Object.assign(row, scheduleFor(basis, policy, now));
      const after = { rotationPolicyId: row.rotationPolicyId, expiresAt: row.expiresAt, nextRotationAt: row.nextRotationAt };
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

  /** Active tokens unused (or, never used, created) longer than `unusedFor` seconds ago. */
  async dormant(p: Principal, unusedFor: number, first: number | null | undefined, after: string | null | undefined): Promise<Connection<Token>> {
    const limit = pageSize(first);
    const now = new Date();
    const qb = filteredTokens(new TenantScope(this.ds.manager, p.tenantId), p, { status: [TokenStatus.ACTIVE] }, now)
      .leftJoin('token_usage', 'u', 'u.tenant_id = t.tenant_id AND u.token_id = t.id')
      .andWhere(`coalesce(u.last_used_at, t.createdAt) < :cutoff`, { cutoff: new Date(now.getTime() - unusedFor * 1000) });
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('t.id > :after', { after: requireId(decodeCursor(after), 'after') });
    const rows = await qb.orderBy('t.id', 'ASC').limit(limit + 1).getMany();
    return connection(rows, limit, totalCount, (r) => r.id, (r) => toToken(r, now));
  }
}

function revokedFields(reason: string, now: Date) {
  return { status: 'REVOKED' as const, revokedAt: now, revokedReason: reason, nextRotationAt: null, nextNotifyAt: null, updatedAt: now };
}


function jsonDates(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
}
