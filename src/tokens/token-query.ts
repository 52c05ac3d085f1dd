// Reading tokens: the API view of a row, and the filters the API offers, in SQL.
import type { SelectQueryBuilder } from 'typeorm';
import { badInput } from '../platform/errors';
import { requireId } from '../platform/ids';
import { rateLimitOf } from '../policies/rate-limit';
import { validateLabels } from '../platform/labels';
import { type TokenRow } from './token.entity';
import { type Token, type TokenFilter, TokenStatus } from './token.types';

/** ACTIVE past its expiry is EXPIRED, whether or not the expiry job has run yet. */
export function effectiveStatus(row: Pick<TokenRow, 'status' | 'expiresAt'>, now: Date): TokenStatus {
  if (row.status === 'ACTIVE' && row.expiresAt && row.expiresAt <= now) return TokenStatus.EXPIRED;
  return row.status as TokenStatus;
}

export function toToken(row: TokenRow, now = new Date()): Token {
  return {
    id: row.id,
    ownerId: row.ownerId,
    rotationPolicyId: row.rotationPolicyId,
    name: row.name,
    description: row.description,
    labels: row.labels,
    status: effectiveStatus(row, now),
    kind: row.kind,
    generation: row.generation,
    expiresAt: row.expiresAt,
    requestedExpiresAt: row.requestedExpiresAt,
    nextRotationAt: row.nextRotationAt,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
    revokedReason: row.revokedReason,
    suspendedReason: row.suspendedReason,
    rateLimit: rateLimitOf(row),
    allowedCidrs: row.allowedCidrs,
  };
}

const STATUS_SQL: Record<TokenStatus, string> = {
  ACTIVE: `(t.status = 'ACTIVE' AND (t.expiresAt IS NULL OR t.expiresAt > :now))`,
  EXPIRED: `(t.status = 'EXPIRED' OR (t.status = 'ACTIVE' AND t.expiresAt <= :now))`,
  SUSPENDED: `t.status = 'SUSPENDED'`,
  REVOKED: `t.status = 'REVOKED'`,
};

export function isEmptyFilter(f: TokenFilter): boolean {
  return (
    !f.ownerId &&
    !f.status?.length &&
    !f.scope &&
    !(f.labels && Object.keys(f.labels).length) &&
    !f.expiresBefore &&
    !f.search
  );
}

/** Adds the filter's conditions to a query over tokens aliased `t`. */
export function applyTokenFilter(qb: SelectQueryBuilder<TokenRow>, f: TokenFilter | null | undefined, now: Date): void {
  if (!f) return;
  if (f.ownerId) qb.andWhere('t.ownerId = :ownerId', { ownerId: requireId(f.ownerId, 'filter.ownerId') });
  if (f.status?.length) {
    qb.andWhere(`(${[...new Set(f.status)].map((s) => STATUS_SQL[s]).join(' OR ')})`, { now });
  }
  if (f.scope) {
    qb.andWhere(
      `EXISTS (SELECT 1 FROM token_scopes ts JOIN scopes s ON s.tenant_id = ts.tenant_id AND s.id = ts.scope_id
               WHERE ts.tenant_id = t.tenant_id AND ts.token_id = t.id AND s.name = :scopeName)`,
      { scopeName: f.scope },
    );
  }
  if (f.labels && Object.keys(f.labels).length > 0) {
    qb.andWhere('t.labels @> :labels::jsonb', { labels: JSON.stringify(validateLabels(f.labels, 'filter.labels')) });
  }
  if (f.expiresBefore) qb.andWhere('t.expiresAt < :expiresBefore', { expiresBefore: f.expiresBefore });
  if (f.search) {
    const term = f.search.trim();
    if (term.length < 1) throw badInput('search must not be empty', { argument: 'filter.search' });
    qb.andWhere(`t.name ILIKE :search ESCAPE '\\'`, { search: `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%` });
  }
}
