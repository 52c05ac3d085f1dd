// The tokens a principal may act on, in one place: another owner's token is NOT_FOUND for a
// principal without TOKEN_ALL_OWNERS, and an action on a token in the wrong state is a CONFLICT.
import { type Principal, tokenOwnerRestriction } from '../iam/principal';
import { conflict, notFound } from '../platform/errors';
import { requireId } from '../platform/ids';
import type { TenantScope } from '../platform/tenant-scope';
import { TokenRow } from './token.entity';
import { applyTokenFilter, effectiveStatus } from './token-query';
import type { TokenFilter } from './token.types';

/** A token the principal may act on; another owner's token is NOT_FOUND for a developer. */
export async function loadToken(scope: TenantScope, p: Principal, id: string, lock = false): Promise<TokenRow> {
  requireId(id);
  const row = await scope.get(TokenRow, id, 'token', lock);
  const restrictedTo = tokenOwnerRestriction(p);
  if (restrictedTo && row.ownerId !== restrictedTo) throw notFound('token', id);
  return row;
}

export function filteredTokens(scope: TenantScope, p: Principal, filter: TokenFilter | null | undefined, now: Date) {
  const qb = scope.select(TokenRow, 't');
  const restrictedTo = tokenOwnerRestriction(p);
  if (restrictedTo) qb.andWhere('t.ownerId = :self', { self: restrictedTo });
  applyTokenFilter(qb, filter, now);
  return qb;
}

export function assertTokenState(row: TokenRow, now: Date, allowed: string[], verb: string): void {
  const status = effectiveStatus(row, now);
  if (!allowed.includes(status)) {
    throw conflict(`token ${JSON.stringify(row.id)} is ${status.toLowerCase()} and cannot be ${verb}`, {
      id: row.id,
      status,
    });
  }
}
