// Who may act on a token beyond the role check: another owner's control-plane token is managed
// only by someone holding that owner's power, and restrictions set by someone else are the
// holder's to tighten only.
import type { Tx } from '../platform/db';
import { assertHoldsPowerOf } from '../iam/owner-power';
import { Permission } from '../iam/permissions';
import type { Principal } from '../iam/principal';
import { forbidden } from '../platform/errors';
import { cidrsWithin } from '../platform/networks';
import type { TokenRow } from './token.entity';

/**
 * A CONTROL token of another owner is that owner's power in the caller's hands: issuing, rotating,
 * suspending, restricting or revoking one is refused unless the caller already holds everything
 * the owner holds (iam/owner-power.ts). DATA tokens carry only their scopes and reach no door of
 * Latchkey's own, so managing them stays with TOKEN_ALL_OWNERS.
 */
export async function assertMayManageControl(
  tx: Tx,
  p: Principal,
  rows: ReadonlyArray<Pick<TokenRow, 'kind' | 'ownerId'>>,
  verb: string,
): Promise<void> {
  const owners = rows.filter((r) => r.kind === 'CONTROL').map((r) => r.ownerId);
  if (owners.length > 0) await assertHoldsPowerOf(tx, p, owners, verb);
}

/** Restrictions someone else placed on a token are not its owner's to lift, unless it manages every owner's tokens. */
export function assertMayLoosen(p: Principal, row: TokenRow, what: string[]): void {
  if (!row.restrictionsLocked || p.permissions.has(Permission.TOKEN_ALL_OWNERS)) return;
  throw forbidden(
    `restrictions on token ${JSON.stringify(row.id)} were set by someone with more authority; you may tighten them, not lift them (${what.join(', ')})`,
    {
      id: row.id,
      loosened: what,
    },
  );
}

/** Restrictions set by anyone but the token's owner lock them against the owner. */
export function lockIfSetByOther(p: Principal, row: TokenRow): void {
  if (p.ownerId !== row.ownerId) row.restrictionsLocked = true;
}

/** The restrictions a holder may tighten but, once someone else set them, not lift. */
export type Restrictions = Pick<TokenRow, 'allowedCidrs' | 'rateRequests' | 'rateWindow'>;

/** Which restrictions a change lifts or widens: networks cleared or widened, a rate limit cleared or raised. */
export function loosenedRestrictions(was: Restrictions, now: Restrictions): string[] {
  const out: string[] = [];
  if (was.allowedCidrs && (!now.allowedCidrs || !cidrsWithin(now.allowedCidrs, was.allowedCidrs)))
    out.push('allowedCidrs widened');
  // More requests per second than before (compared without division), or a larger burst: the same
  // average over a longer window lets more through at once.
  if (
    was.rateRequests &&
    was.rateWindow &&
    (!now.rateRequests ||
      !now.rateWindow ||
      now.rateRequests > was.rateRequests ||
      now.rateRequests * was.rateWindow > was.rateRequests * now.rateWindow)
  ) {
    out.push('rateLimit raised');
  }
  return out;
}
