// The token core: issue, read, rotate, suspend, resume, revoke (one or in bulk) and update.
// Every change is one transaction that ends with its audit event.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { Permission } from '../iam/permissions';
import { type Principal, tokenOwnerRestriction } from '../iam/principal';
import { Owner } from '../owners/owner.entity';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { graceFor, nextRotationFor, type Schedule, type ScheduleBasis, sameSchedule, scheduleFor } from '../policies/schedule';
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
import { cidrsWithin, parseCidrs } from '../verify/ip-binding';
import type { RateLimitInput } from '../verify/rate-limit.types';
import { type TokenKindValue, TokenRow, TokenScopeRow } from './token.entity';
import { TokenSecretRow } from './token-secret.entity';
import { applyTokenFilter, effectiveStatus, isEmptyFilter, toToken } from './token-query';
import { type DailyUsage, type IssueTokenInput, type Token, type TokenFilter, TokenKind, TokenStatus, type UpdateTokenInput } from './token.types';

const MAX_GRACE_S = 90 * 86_400;
const SECRETS_SHOWN = 10;

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

/** The permissions an owner holds (the role model's answer). */
export interface OwnerAuthority {
  permissionsOf(tenantId: string, ownerId: string): Promise<Set<Permission>>;
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
    private readonly authority: OwnerAuthority,
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
      if (kind === TokenKind.CONTROL) await this.assertMayHoldControlOf(p, ownerId, 'issue a CONTROL token for');
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
      if (row.kind === 'CONTROL') await this.assertMayHoldControlOf(p, row.ownerId, 'rotate a CONTROL token of');
      const policy = row.rotationPolicyId ? await scope.get(RotationPolicy, row.rotationPolicyId, 'rotation policy') : null;
      const grace = graceFor(gracePeriod, policy);
      const [{ secret, graceEndsAt }] = (await this.addGenerations(tx, p.tenantId, [{ row, grace, policy }], now)) as [{ secret: string; graceEndsAt: Date | null }];
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
   * Rotates tokens of one tenant in a few statements whatever their number: each gets a new
   * CURRENT secret, its old CURRENT becomes PREVIOUS until its grace ends (REVOKED with no
   * grace), an older PREVIOUS is RETIRED and a successor nobody picked up is dropped. With
   * `seal`, each new secret is also kept sealed for pickup. Updates the rows in place and
   * returns the new secrets in the order of `items`.
   */
  async addGenerations(
    tx: Tx,
    tenantId: string,
    items: Array<{ row: RotatableRow; grace: number; policy: Pick<RotationPolicy, 'rotateEvery'> | null }>,
    now: Date,
    seal?: (secretId: string, secret: string) => { ciphertext: string; keyId: string },
  ): Promise<Array<{ secret: string; graceEndsAt: Date | null }>> {
    if (items.length === 0) return [];
    const ids = items.map((i) => i.row.id);
    const graceEnds = items.map((i) => (i.grace > 0 ? new Date(now.getTime() + i.grace * 1000) : null));
    await tx.query(
      `UPDATE token_secrets SET sealed = NULL, sealed_key_id = NULL WHERE tenant_id = $1 AND token_id = ANY($2) AND sealed IS NOT NULL`,
      [tenantId, ids],
    );
    await tx.query(`UPDATE token_secrets SET state = 'RETIRED', ended_at = $3 WHERE tenant_id = $1 AND token_id = ANY($2) AND state = 'PREVIOUS'`, [tenantId, ids, now]);
    await tx.query(
      `UPDATE token_secrets s
          SET state = CASE WHEN v.grace_ends_at IS NULL THEN 'REVOKED' ELSE 'PREVIOUS' END,
              grace_ends_at = v.grace_ends_at,
              ended_at = CASE WHEN v.grace_ends_at IS NULL THEN $2::timestamptz END
         FROM unnest($3::uuid[], $4::timestamptz[]) AS v(token_id, grace_ends_at)
        WHERE s.tenant_id = $1 AND s.token_id = v.token_id AND s.state = 'CURRENT'`,
      [tenantId, now, ids, graceEnds],
    );
    const secrets = items.map(({ row, policy }, i) => {
      row.generation += 1;
      row.nextRotationAt = nextRotationFor(now, row.expiresAt, policy);
      row.updatedAt = now;
      const minted = this.hasher.mint();
      const id = uuidv7();
      const sealed = seal && graceEnds[i] ? seal(id, minted.secret) : null;
      return { id, row, minted, sealed };
    });
    await tx.query(
      `INSERT INTO token_secrets (id, tenant_id, token_id, generation, hash, hint, state, created_at, sealed, sealed_key_id)
       SELECT id, $1, token_id, generation, hash, hint, 'CURRENT', $2, sealed, key_id
         FROM unnest($3::uuid[], $4::uuid[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[]) AS v(id, token_id, generation, hash, hint, sealed, key_id)`,
      [
        tenantId,
        now,
        secrets.map((x) => x.id),
        secrets.map((x) => x.row.id),
        secrets.map((x) => x.row.generation),
        secrets.map((x) => x.minted.hash),
        secrets.map((x) => x.minted.hint),
        secrets.map((x) => x.sealed?.ciphertext ?? null),
        secrets.map((x) => x.sealed?.keyId ?? null),
      ],
    );
    await tx.query(
      `UPDATE tokens t SET generation = v.generation, next_rotation_at = v.next_rotation_at, updated_at = $2
         FROM unnest($3::uuid[], $4::int[], $5::timestamptz[]) AS v(id, generation, next_rotation_at)
        WHERE t.tenant_id = $1 AND t.id = v.id`,
      [tenantId, now, ids, secrets.map((x) => x.row.generation), secrets.map((x) => x.row.nextRotationAt)],
    );
    return secrets.map((x, i) => ({ secret: x.minted.secret, graceEndsAt: graceEnds[i]! }));
  }

  /**
   * Re-plans tokens after their policy changed or was attached: expiry, next rotation and
   * warnings from `scheduleFor`. Returns the ids whose schedule moved.
   */
  async replan(tx: Tx, tenantId: string, bases: ScheduledToken[], policy: RotationPolicy | null, now: Date): Promise<string[]> {
    // An expired token stays expired, whatever the new policy says.
    const changed = bases
      .filter((b) => !b.expiresAt || b.expiresAt > now)
      .map((b) => ({ b, next: scheduleFor(b, policy, now) }))
      .filter(({ b, next }) => !sameSchedule(b, next));
    for (let i = 0; i < changed.length; i += 5_000) {
      const chunk = changed.slice(i, i + 5_000);
      await tx.query(
        `UPDATE tokens t SET expires_at = v.e, next_rotation_at = v.r, next_notify_at = v.n, updated_at = $2
           FROM unnest($3::uuid[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[]) AS v(id, e, r, n)
          WHERE t.tenant_id = $1 AND t.id = v.id`,
        [
          tenantId,
          now,
          chunk.map((c) => c.b.id),
          chunk.map((c) => c.next.expiresAt),
          chunk.map((c) => c.next.nextRotationAt),
          chunk.map((c) => c.next.nextNotifyAt),
        ],
      );
    }
    return changed.map((c) => c.b.id);
  }

  async revoke(p: Principal, id: string, reason: string): Promise<Token> {
    const why = reasonOf(reason);
    const token = await this.ds.transaction(async (tx) => {
      const row = await this.load(new TenantScope(tx, p.tenantId), p, id, true);
      if (row.status === 'REVOKED') throw conflict(`token ${JSON.stringify(id)} is already revoked`, { id });
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
      const matches = await this.filtered(new TenantScope(tx, p.tenantId), p, filter, now)
        .andWhere(`t.status <> 'REVOKED'`)
        .orderBy('t.id', 'ASC')
        .setLock('pessimistic_write')
        .getMany();
      const ids = matches.map((t) => t.id);
      if (ids.length === 0) return { count: 0, tokenIds: [] };
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
    await tx.query(
      `UPDATE token_secrets SET state = CASE WHEN state IN ('CURRENT', 'PREVIOUS') THEN 'REVOKED' ELSE state END,
              ended_at = CASE WHEN state IN ('CURRENT', 'PREVIOUS') THEN $3 ELSE ended_at END,
              sealed = NULL, sealed_key_id = NULL
        WHERE tenant_id = $1 AND token_id = ANY($2) AND (state IN ('CURRENT', 'PREVIOUS') OR sealed IS NOT NULL)`,
      [tenantId, ids, now],
    );
    await tx
      .createQueryBuilder()
      .update(TokenRow)
      .set(revokedFields(reason, now))
      .where('tenant_id = :tenantId AND id = ANY(:ids)', { tenantId, ids })
      .execute();
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
      if (Object.keys(after).length === 0) return toToken(row);
      const loosened = loosenedRestrictions(was, row);
      if (loosened.length > 0) this.assertMayLoosen(p, row, loosened);
      if ('rateRequests' in after || 'allowedCidrs' in after) this.lockIfSetByOther(p, row);
      row.updatedAt = new Date();
      await scope.update(TokenRow, row.id, {
        name: row.name,
        description: row.description,
        labels: row.labels,
        rateRequests: row.rateRequests,
        rateWindow: row.rateWindow,
        allowedCidrs: row.allowedCidrs,
        restrictionsLocked: row.restrictionsLocked,
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
      this.assertState(row, now, ['ACTIVE', 'SUSPENDED'], 'given a policy');
      const policy = policyId ? await scope.get(RotationPolicy, requireId(policyId, 'rotationPolicyId'), 'rotation policy') : null;
      if ((policy?.id ?? null) === row.rotationPolicyId) return toToken(row, now);
      if (row.rotationPolicyId) this.assertMayLoosen(p, row, [policy ? 'the rotation policy replaced' : 'the rotation policy detached']);
      if (policy) this.lockIfSetByOther(p, row);
      const before = { rotationPolicyId: row.rotationPolicyId, expiresAt: row.expiresAt, nextRotationAt: row.nextRotationAt };
      const [basis] = await scheduledTokens(tx, row.tenantId, 't.id = $2', [row.id]);
      row.rotationPolicyId = policy?.id ?? null;
      row.updatedAt = now;
      await scope.update(TokenRow, row.id, { rotationPolicyId: row.rotationPolicyId, restrictionsLocked: row.restrictionsLocked, updatedAt: now });
      if (basis && (await this.replan(tx, row.tenantId, [basis], policy, now)).length > 0) Object.assign(row, scheduleFor(basis, policy, now));
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
    const qb = this.filtered(scope, p, filter, new Date()).andWhere(`t.status IN ('ACTIVE', 'SUSPENDED')`);
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
      ? await scope.select(TokenSecretRow, 's').andWhere(`s.state IN ('PREVIOUS', 'CURRENT') AND s.tokenId = ANY(:ids)`, { ids: rows.map((r) => r.id) }).getMany()
      : [];
    const byToken = groupBy(rows.map((r) => r.id), secrets, (x) => x.tokenId);
    return rows.map((row, i) => ({
      row,
      previous: byToken[i]!.filter((x) => x.state === 'PREVIOUS'),
      rotatedAt: byToken[i]!.find((x) => x.state === 'CURRENT')?.createdAt ?? row.createdAt,
    }));
  }

  /**
   * Handing a principal another owner's control-plane secret hands it that owner's power: it must
   * already hold every permission the owner holds.
   */
  private async assertMayHoldControlOf(p: Principal, ownerId: string, verb: string): Promise<void> {
    if (ownerId === p.ownerId) return;
    const missing = [...(await this.authority.permissionsOf(p.tenantId, ownerId))].filter((x) => !p.permissions.has(x));
    if (missing.length > 0) {
      throw forbidden(`you may not ${verb} owner ${JSON.stringify(ownerId)}: it holds permissions you do not (${missing.sort().join(', ')})`, {
        missingPermissions: missing,
      });
    }
  }

  /** Restrictions someone else placed on a token are not its owner's to lift, unless it manages every owner's tokens. */
  private assertMayLoosen(p: Principal, row: TokenRow, what: string[]): void {
    if (!row.restrictionsLocked || p.permissions.has(Permission.TOKEN_ALL_OWNERS)) return;
    throw forbidden(`restrictions on token ${JSON.stringify(row.id)} were set by someone with more authority; you may tighten them, not lift them (${what.join(', ')})`, {
      id: row.id,
      loosened: what,
    });
  }

  /** Restrictions set by anyone but the token's owner lock them against the owner. */
  private lockIfSetByOther(p: Principal, row: TokenRow): void {
    if (p.ownerId !== row.ownerId) row.restrictionsLocked = true;
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

/** The restrictions a holder may tighten but, once someone else set them, not lift. */
export type Restrictions = Pick<TokenRow, 'allowedCidrs' | 'rateRequests' | 'rateWindow'>;

/** Which restrictions a change lifts or widens: networks cleared or widened, a rate limit cleared or raised. */
export function loosenedRestrictions(was: Restrictions, now: Restrictions): string[] {
  const out: string[] = [];
  if (was.allowedCidrs && (!now.allowedCidrs || !cidrsWithin(now.allowedCidrs, was.allowedCidrs))) out.push('allowedCidrs widened');
  // More requests per second than before, compared without division.
  if (was.rateRequests && was.rateWindow && (!now.rateRequests || !now.rateWindow || now.rateRequests * was.rateWindow > was.rateRequests * now.rateWindow)) {
    out.push('rateLimit raised');
  }
  return out;
}

function revokedFields(reason: string, now: Date) {
  return { status: 'REVOKED' as const, revokedAt: now, revokedReason: reason, nextRotationAt: null, nextNotifyAt: null, updatedAt: now };
}

/** What a rotation reads and moves on a token row. */
export type RotatableRow = Pick<TokenRow, 'id' | 'generation' | 'expiresAt' | 'nextRotationAt' | 'updatedAt'>;

/** A live token with what its schedule is computed from. */
export interface ScheduledToken extends ScheduleBasis, Schedule {
  id: string;
  tenantId: string;
  status: string;
  generation: number;
  ownerId: string;
}

/**
 * Live tokens (ACTIVE or SUSPENDED) matching `where` (over `t`, parameters from $2), locked,
 * with the moment of their last rotation.
 */
export async function scheduledTokens(tx: Tx, tenantId: string, where: string, params: unknown[]): Promise<ScheduledToken[]> {
  const rows: Array<Record<string, never>> = await tx.query(
    `SELECT t.id, t.tenant_id, t.owner_id, t.status, t.generation, t.created_at, t.requested_expires_at, t.expires_at,
            t.next_rotation_at, t.next_notify_at, s.created_at AS rotated_at
       FROM tokens t
       JOIN token_secrets s ON s.tenant_id = t.tenant_id AND s.token_id = t.id AND s.state = 'CURRENT'
      WHERE t.tenant_id = $1 AND t.status IN ('ACTIVE', 'SUSPENDED') AND ${where}
      ORDER BY t.id FOR UPDATE OF t`,
    [tenantId, ...params],
  );
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    ownerId: r.owner_id,
    status: r.status,
    generation: r.generation,
    createdAt: r.created_at,
    requestedExpiresAt: r.requested_expires_at,
    rotatedAt: r.rotated_at,
    expiresAt: r.expires_at,
    nextRotationAt: r.next_rotation_at,
    nextNotifyAt: r.next_notify_at,
  }));
}


function jsonDates(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
}
