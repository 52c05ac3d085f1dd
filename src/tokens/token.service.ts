// The token core: issue, read, rotate, suspend, resume, revoke (one or in bulk) and update.
// Every change is one transaction that ends with its audit event.
import type { DataSource } from 'typeorm';
import type { AuditEntry, AuditService } from '../audit/audit.service';
import { type Principal, tokenOwnerRestriction } from '../iam/principal';
import { Owner } from '../owners/owner.entity';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { expiryFor, graceFor, nextRotationFor } from '../policies/schedule';
import type { Scope } from '../scopes/scope.entity';
import type { ScopeService } from '../scopes/scope.service';
import type { Tx } from '../platform/db';
import { groupBy } from '../platform/batch';
import { formatDuration } from '../platform/duration';
import { badInput, conflict, forbidden, notFound } from '../platform/errors';
import { decodeCursor, requireId, uuidv7 } from '../platform/ids';
import { type Connection, connection, pageSize } from '../platform/pagination';
import { TenantScope } from '../platform/tenant-scope';
import { validateLabels } from './labels';
import type { SecretHasher } from './secret-hasher';
import type { ChangeNotifier } from '../events/change-notifier';
import { parseCidrs } from '../verify/ip-binding';
import type { RateLimitInput } from '../verify/rate-limit.types';
import { TokenRow, TokenScopeRow } from './token.entity';
import { TokenSecretRow } from './token-secret.entity';
import { applyTokenFilter, effectiveStatus, isEmptyFilter, toToken } from './token-query';
import { type DailyUsage, type IssueTokenInput, type Token, type TokenFilter, TokenStatus, type UpdateTokenInput } from './token.types';

const MAX_GRACE_S = 90 * 86_400;
const SECRETS_SHOWN = 10;

export interface NewToken {
  ownerId: string;
  name: string;
  description: string | null;
  labels: Record<string, string>;
  scopes: Scope[];
  expiresAt: Date | null;
  policy: RotationPolicy | null;
  rateLimit?: { requests: number; per: number } | null;
  allowedCidrs?: string[] | null;
}

export interface UsageSummary {
  usageCount: number;
  lastUsedAt: Date | null;
  lastClientIps: string[];
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
    const expiresAt = expiryFor(now, t.expiresAt, t.policy);
    const row: TokenRow = {
      id: uuidv7(now.getTime()),
      tenantId,
      ownerId: t.ownerId,
      name: t.name,
      description: t.description,
      labels: t.labels,
      status: 'ACTIVE',
      generation: 1,
      rotationPolicyId: t.policy?.id ?? null,
      expiresAt,
      nextRotationAt: nextRotationFor(now, expiresAt, t.policy),
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
    const labels = validateLabels(input.labels, 'labels');
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
      throw badInput('expiresAt must be in the future', { argument: 'expiresAt' });
    }
    const rateLimit = input.rateLimit ? validRateLimit(input.rateLimit) : null;
    const allowedCidrs = input.allowedCidrs ? parseCidrs(input.allowedCidrs) : null;
    return this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      await scope.get(Owner, ownerId, 'owner');
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
    return toToken(await this.load(new TenantScope(this.ds.manager, p.tenantId), p, id));
  }

  async list(p: Principal, filter: TokenFilter | null | undefined, first: number | null | undefined, after: string | null | undefined): Promise<Connection<Token>> {
    const limit = pageSize(first);
    const now = new Date();
    const qb = this.filtered(new TenantScope(this.ds.manager, p.tenantId), p, filter, now);
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('t.id > :after', { after: requireId(decodeCursor(after), 'after') });
    const rows = await qb.orderBy('t.id', 'ASC').limit(limit + 1).getMany();
    return connection(rows, limit, totalCount, (r) => r.id, (r) => toToken(r, now));
  }

  async rotate(p: Principal, id: string, gracePeriod: number | null | undefined): Promise<Issued> {
    if (gracePeriod != null && gracePeriod > MAX_GRACE_S) throw badInput('gracePeriod must be at most P90D', { argument: 'gracePeriod' });
    const issued = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const row = await this.load(scope, p, id, true);
      const now = new Date();
      this.assertState(row, now, ['ACTIVE'], 'rotated');
      const policy = row.rotationPolicyId ? await scope.get(RotationPolicy, row.rotationPolicyId, 'rotation policy') : null;
      const grace = graceFor(gracePeriod, policy);
      const { secret, graceEndsAt } = await this.addGeneration(tx, row, now, grace, policy);
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
   * Adds a CURRENT secret and demotes the old one to PREVIOUS (or REVOKED with no grace).
   * Only the latest PREVIOUS survives: older ones are RETIRED. Updates `row` in place.
   */
  async addGeneration(tx: Tx, row: TokenRow, now: Date, grace: number, policy: RotationPolicy | null): Promise<{ secret: string; graceEndsAt: Date | null }> {
    const graceEndsAt = grace > 0 ? new Date(now.getTime() + grace * 1000) : null;
    const secrets = tx.createQueryBuilder().update(TokenSecretRow);
    await secrets
      .set({ state: 'RETIRED', endedAt: now })
      .where(`tenant_id = :tenantId AND token_id = :id AND state = 'PREVIOUS'`, { tenantId: row.tenantId, id: row.id })
      .execute();
    await tx
      .createQueryBuilder()
      .update(TokenSecretRow)
      .set(graceEndsAt ? { state: 'PREVIOUS', graceEndsAt } : { state: 'REVOKED', endedAt: now })
      .where(`tenant_id = :tenantId AND token_id = :id AND state = 'CURRENT'`, { tenantId: row.tenantId, id: row.id })
      .execute();
    row.generation += 1;
    row.nextRotationAt = nextRotationFor(now, row.expiresAt, policy);
    row.updatedAt = now;
    const minted = this.hasher.mint();
    const scope = new TenantScope(tx, row.tenantId);
    await scope.insert(TokenSecretRow, [
      { id: uuidv7(), tokenId: row.id, generation: row.generation, hash: minted.hash, hint: minted.hint, state: 'CURRENT', createdAt: now, graceEndsAt: null, endedAt: null },
    ]);
    await scope.update(TokenRow, row.id, { generation: row.generation, nextRotationAt: row.nextRotationAt, updatedAt: now });
    return { secret: minted.secret, graceEndsAt };
  }

  async revoke(p: Principal, id: string, reason: string): Promise<Token> {
    const why = reasonOf(reason);
    const token = await this.ds.transaction(async (tx) => {
      const row = await this.load(new TenantScope(tx, p.tenantId), p, id, true);
      if (row.status === 'REVOKED') throw conflict(`token ${JSON.stringify(id)} is already revoked`, { id });
      const now = new Date();
      await this.revokeRows(tx, p.tenantId, [row.id], why, now);
      await this.audit.append(tx, p.tenantId, revokedEvent(p.ownerId, row.id, why, false));
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
      const matches = await this.filtered(new TenantScope(tx, p.tenantId), p, filter, now)
        .andWhere(`t.status <> 'REVOKED'`)
        .orderBy('t.id', 'ASC')
        .setLock('pessimistic_write')
        .getMany();
      const ids = matches.map((t) => t.id);
      if (ids.length === 0) return { count: 0, tokenIds: [] };
      await this.revokeRows(tx, p.tenantId, ids, why, now);
      await this.audit.append(tx, p.tenantId, ids.map((tid) => revokedEvent(p.ownerId, tid, why, true)));
      return { count: ids.length, tokenIds: ids };
    });
    await this.changes.tokensChanged(result.tokenIds);
    return result;
  }

  /** Marks tokens and all their live secrets REVOKED. */
  async revokeRows(tx: Tx, tenantId: string, ids: string[], reason: string, now: Date): Promise<void> {
    await tx
      .createQueryBuilder()
      .update(TokenSecretRow)
      .set({ state: 'REVOKED', endedAt: now })
      .where(`tenant_id = :tenantId AND token_id IN (:...ids) AND state IN ('CURRENT', 'PREVIOUS')`, { tenantId, ids })
      .execute();
    await tx
      .createQueryBuilder()
      .update(TokenRow)
      .set(revokedFields(reason, now))
      .where('tenant_id = :tenantId AND id IN (:...ids)', { tenantId, ids })
      .execute();
  }

  async suspend(p: Principal, id: string, reason: string): Promise<Token> {
    const why = reasonOf(reason);
    return this.changeStatus(p, id, 'ACTIVE', 'SUSPENDED', 'TOKEN_SUSPENDED', why);
  }

  async resume(p: Principal, id: string): Promise<Token> {
    return this.changeStatus(p, id, 'SUSPENDED', 'ACTIVE', 'TOKEN_RESUMED', null);
  }

  private async changeStatus(p: Principal, id: string, from: 'ACTIVE' | 'SUSPENDED', to: 'ACTIVE' | 'SUSPENDED', action: string, reason: string | null): Promise<Token> {
    const token = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const row = await this.load(scope, p, id, true);
      const now = new Date();
      this.assertState(row, now, [from], to === 'SUSPENDED' ? 'suspended' : 'resumed');
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
      const row = await this.load(scope, p, id, true);
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
      if (Object.keys(after).length === 0) return toToken(row);
      row.updatedAt = new Date();
      await scope.update(TokenRow, row.id, {
        name: row.name,
        description: row.description,
        labels: row.labels,
        rateRequests: row.rateRequests,
        rateWindow: row.rateWindow,
        allowedCidrs: row.allowedCidrs,
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
      const row = await this.load(scope, p, id, true);
      const now = new Date();
      if (row.status === 'REVOKED') throw conflict(`token ${JSON.stringify(id)} is revoked`, { id });
      const policy = policyId ? await scope.get(RotationPolicy, requireId(policyId, 'rotationPolicyId'), 'rotation policy') : null;
      if ((policy?.id ?? null) === row.rotationPolicyId) return toToken(row, now);
      const before = { rotationPolicyId: row.rotationPolicyId, expiresAt: row.expiresAt, nextRotationAt: row.nextRotationAt };
      row.rotationPolicyId = policy?.id ?? null;
      row.expiresAt = expiryFor(now, row.expiresAt, policy);
      row.nextRotationAt = nextRotationFor(now, row.expiresAt, policy);
      row.updatedAt = now;
      await scope.update(TokenRow, row.id, {
        rotationPolicyId: row.rotationPolicyId,
        expiresAt: row.expiresAt,
        nextRotationAt: row.nextRotationAt,
        updatedAt: now,
      });
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
    const qb = this.filtered(new TenantScope(this.ds.manager, p.tenantId), p, { status: [TokenStatus.ACTIVE] }, now)
      .leftJoin('token_usage', 'u', 'u.tenant_id = t.tenant_id AND u.token_id = t.id')
      .andWhere(`coalesce(u.last_used_at, t.createdAt) < :cutoff`, { cutoff: new Date(now.getTime() - unusedFor * 1000) });
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('t.id > :after', { after: requireId(decodeCursor(after), 'after') });
    const rows = await qb.orderBy('t.id', 'ASC').limit(limit + 1).getMany();
    return connection(rows, limit, totalCount, (r) => r.id, (r) => toToken(r, now));
  }

  /** Counts, last use and last client addresses of each token (what the last flushes wrote). */
  async usageSummaries(tenantId: string, tokenIds: readonly string[]): Promise<UsageSummary[]> {
    const rows: Array<{ token_id: string; usage_count: string; last_used_at: Date; last_client_ips: string[] }> = await this.ds.query(
      `SELECT token_id, usage_count, last_used_at, last_client_ips FROM token_usage WHERE tenant_id = $1 AND token_id = ANY($2)`,
      [tenantId, tokenIds],
    );
    const byId = new Map(rows.map((r) => [r.token_id, r]));
    return tokenIds.map((id) => {
      const r = byId.get(id);
      return r ? { usageCount: Number(r.usage_count), lastUsedAt: r.last_used_at, lastClientIps: r.last_client_ips } : { usageCount: 0, lastUsedAt: null, lastClientIps: [] };
    });
  }

  /** Verifications per UTC day between two instants, for each token. */
  async usageByTokenIds(tenantId: string, tokenIds: readonly string[], from: Date, to: Date): Promise<DailyUsage[][]> {
    const rows: Array<{ token_id: string; day: string; count: string }> = await this.ds.query(
      `SELECT token_id, to_char(day, 'YYYY-MM-DD') AS day, count FROM token_usage_daily
        WHERE tenant_id = $1 AND token_id = ANY($2) AND day BETWEEN ($3::timestamptz AT TIME ZONE 'UTC')::date AND ($4::timestamptz AT TIME ZONE 'UTC')::date
        ORDER BY day`,
      [tenantId, tokenIds, from, to],
    );
    return groupBy(tokenIds, rows, (r) => r.token_id).map((rs) => rs.map((r) => ({ day: r.day, count: Number(r.count) })));
  }

  /** The latest generations of each token's secrets, newest first. */
  async secretsByTokenIds(tenantId: string, tokenIds: readonly string[]): Promise<TokenSecretRow[][]> {
    const rows = await new TenantScope(this.ds.manager, tenantId)
      .select(TokenSecretRow, 's')
      .andWhere('s.tokenId IN (:...tokenIds)', { tokenIds })
      .andWhere(
        `s.generation > (SELECT max(x.generation) FROM token_secrets x WHERE x.token_id = s.token_id) - :shown`,
        { shown: SECRETS_SHOWN },
      )
      .orderBy('s.generation', 'DESC')
      .getMany();
    return groupBy(tokenIds, rows, (r) => r.tokenId);
  }

  /** A token the principal may act on; another owner's token is NOT_FOUND for a developer. */
  private async load(scope: TenantScope, p: Principal, id: string, lock = false): Promise<TokenRow> {
    requireId(id);
    const row = await scope.get(TokenRow, id, 'token', lock);
    const restrictedTo = tokenOwnerRestriction(p);
    if (restrictedTo && row.ownerId !== restrictedTo) throw notFound('token', id);
    return row;
  }

  private filtered(scope: TenantScope, p: Principal, filter: TokenFilter | null | undefined, now: Date) {
    const qb = scope.select(TokenRow, 't');
    const restrictedTo = tokenOwnerRestriction(p);
    if (restrictedTo) qb.andWhere('t.ownerId = :self', { self: restrictedTo });
    applyTokenFilter(qb, filter, now);
    return qb;
  }

  private assertState(row: TokenRow, now: Date, allowed: string[], verb: string): void {
    const status = effectiveStatus(row, now);
    if (!allowed.includes(status)) {
      throw conflict(`token ${JSON.stringify(row.id)} is ${status.toLowerCase()} and cannot be ${verb}`, { id: row.id, status });
    }
  }
}

/** A rate limit must make sense: at least one request, over a window from a second to a day. */
export function validRateLimit(l: RateLimitInput): { requests: number; per: number } {
  if (!Number.isInteger(l.requests) || l.requests < 1) throw badInput('rateLimit.requests must be at least 1', { argument: 'rateLimit' });
  if (l.per < 1 || l.per > 86_400) throw badInput('rateLimit.per must be from PT1S to P1D', { argument: 'rateLimit' });
  return { requests: l.requests, per: l.per };
}

function revokedFields(reason: string, now: Date) {
  return { status: 'REVOKED' as const, revokedAt: now, revokedReason: reason, nextRotationAt: null, updatedAt: now };
}

function revokedEvent(actorId: string, tokenId: string, reason: string, bulk: boolean): AuditEntry {
  return { action: 'TOKEN_REVOKED', actorId, targetType: 'TOKEN', targetId: tokenId, data: { reason, bulk } };
}

function jsonDates(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
}
