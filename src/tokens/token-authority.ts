// Who may act on a token beyond the role check: handing out another owner's control-plane secret
// needs that owner's power, and restrictions set by someone else are the holder's to tighten only.
import type { Tx } from '../platform/db';
import { Permission } from '../iam/permissions';
import type { Principal } from '../iam/principal';
import { badInput, forbidden } from '../platform/errors';
import { cidrsWithin } from './networks';
import type { RateLimitInput } from './rate-limit.types';
import type { TokenRow } from './token.entity';

/** The permissions an owner holds (the role model's answer). */
export interface OwnerAuthority {
  permissionsOf(tenantId: string, ownerId: string, tx: Tx): Promise<Set<Permission>>;
}

/**
 * Handing a principal another owner's control-plane secret hands it that owner's power: it must
 * already hold every permission the owner holds.
 */
export async function assertMayHoldControlOf(authority: OwnerAuthority, tx: Tx, p: Principal, ownerId: string, verb: string): Promise<void> {
  if (ownerId === p.ownerId) return;
  const missing = [...(await authority.permissionsOf(p.tenantId, ownerId, tx))].filter((x) => !p.permissions.has(x));
  if (missing.length > 0) {
    throw forbidden(`you may not ${verb} owner ${JSON.stringify(ownerId)}: it holds permissions you do not (${missing.sort().join(', ')})`, {
      missingPermissions: missing,
    });
  }
}

/** Restrictions someone else placed on a token are not its owner's to lift, unless it manages every owner's tokens. */
export function assertMayLoosen(p: Principal, row: TokenRow, what: string[]): void {
  if (!row.restrictionsLocked || p.permissions.has(Permission.TOKEN_ALL_OWNERS)) return;
  throw forbidden(`restrictions on token ${JSON.stringify(row.id)} were set by someone with more authority; you may tighten them, not lift them (${what.join(', ')})`, {
    id: row.id,
    loosened: what,
  });
}

/** Restrictions set by anyone but the token's owner lock them against the owner. */
export function lockIfSetByOther(p: Principal, row: TokenRow): void {
  if (p.ownerId !== row.ownerId) row.restrictionsLocked = true;
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
