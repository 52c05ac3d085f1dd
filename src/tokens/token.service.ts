// The token core: issue, read and list tokens (dormant ones too). Every change is one transaction
// that ends with its audit event. Status changes (suspend, resume, revoke) are in token-status.ts,
// settings (name, labels, restrictions, expiry, policy) in token-settings.ts, rotation by hand in
// token-rotation.ts, the state transitions themselves in token-transitions.ts.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { type Principal, tokenOwnerRestriction } from '../iam/principal';
import { Owner } from '../owners/owner.entity';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { scheduleFor } from '../policies/schedule';
import type { Scope } from '../scopes/scope.entity';
import type { ScopeService } from '../scopes/scope.service';
import type { Tx } from '../platform/db';
import { badInput, forbidden } from '../platform/errors';
import { decodeCursor, requireId, uuidv7 } from '../platform/ids';
import { type Connection, connection, pageSize } from '../platform/pagination';
import { TenantScope } from '../platform/tenant-scope';
import { validateLabels } from '../platform/labels';
import { parseCidrs } from '../platform/networks';
import type { SecretHasher } from './secret-hasher';
import { filteredTokens, loadToken } from './token-access';
import { assertMayManageControl } from './token-authority';
import { validRateLimit } from '../policies/rate-limit';
import { TokenScopeRow } from '../scopes/scope-links.entity';
import { type TokenKindValue, TokenRow } from './token.entity';
import { TokenSecretRow } from './token-secret.entity';
import { toToken } from './token-query';
import { type IssueTokenInput, type Token, type TokenFilter, TokenKind, TokenStatus } from './token.types';

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

export class TokenService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly scopes: ScopeService,
    private readonly hasher: SecretHasher,
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
    const schedule = scheduleFor(
      { createdAt: now, requestedExpiresAt: t.expiresAt, rotatedAt: now, expiresAt: null, nextNotifyAt: null },
      t.policy,
      now,
    );
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
    await scope.insert(
      TokenScopeRow,
      t.scopes.map((s) => ({ tokenId: row.id, scopeId: s.id })),
    );
    const minted = this.hasher.mint();
    await scope.insert(TokenSecretRow, [
      {
        id: uuidv7(),
        tokenId: row.id,
        generation: 1,
        hash: minted.hash,
        hint: minted.hint,
        state: 'CURRENT',
        createdAt: now,
        graceEndsAt: null,
        endedAt: null,
      },
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
  async list(
    p: Principal,
    filter: TokenFilter | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
    newestFirst = false,
  ): Promise<Connection<Token>> {
    const limit = pageSize(first);
    const now = new Date();
    const qb = filteredTokens(new TenantScope(this.ds.manager, p.tenantId), p, filter, now);
    const totalCount = await qb.clone().getCount();
    if (after)
      qb.andWhere(newestFirst ? 't.id < :after' : 't.id > :after', { after: requireId(decodeCursor(after), 'after') });
    const rows = await qb
      .orderBy('t.id', newestFirst ? 'DESC' : 'ASC')
      .limit(limit + 1)
      .getMany();
    return connection(
      rows,
      limit,
      totalCount,
      (r) => r.id,
      (r) => toToken(r, now),
    );
  }

  /** Active tokens unused (or, never used, created) longer than `unusedFor` seconds ago. */
  async dormant(
    p: Principal,
    unusedFor: number,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<Token>> {
    const limit = pageSize(first);
    const now = new Date();
    const qb = filteredTokens(new TenantScope(this.ds.manager, p.tenantId), p, { status: [TokenStatus.ACTIVE] }, now)
      .leftJoin('token_usage', 'u', 'u.tenant_id = t.tenant_id AND u.token_id = t.id')
      .andWhere(`coalesce(u.last_used_at, t.createdAt) < :cutoff`, {
        cutoff: new Date(now.getTime() - unusedFor * 1000),
      });
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('t.id > :after', { after: requireId(decodeCursor(after), 'after') });
    const rows = await qb
      .orderBy('t.id', 'ASC')
      .limit(limit + 1)
      .getMany();
    return connection(
      rows,
      limit,
      totalCount,
      (r) => r.id,
      (r) => toToken(r, now),
    );
  }
}
