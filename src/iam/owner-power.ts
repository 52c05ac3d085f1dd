// What an owner can do through a CONTROL token of its own: its permissions and the credentials it
// is granted. Acting on another owner's CONTROL token (issuing, rotating, suspending, restricting,
// revoking) is allowed only to a principal that already holds all of it: otherwise the token would
// hand the caller more than it has, or let it lock out someone stronger. The scope ceiling needs
// no check of its own; why, with the rule: docs/permissions.md.
import type { Tx } from '../platform/db';
import { conflict, forbidden } from '../platform/errors';
import { Permission } from './permissions';
import type { Principal } from './principal';

export interface OwnerPower {
  permissions: ReadonlySet<Permission>;
  /** Ids of the credentials the owner is granted to read. */
  grants: ReadonlySet<string>;
}

const POWER = `
  SELECT o.id,
         coalesce((SELECT array_agg(DISTINCT x) FROM role_bindings b JOIN roles r ON r.id = b.role_id, unnest(r.permissions) x
                    WHERE b.tenant_id = o.tenant_id AND b.owner_id = o.id), '{}') AS permissions,
         coalesce((SELECT array_agg(g.credential_id::text) FROM credential_grants g WHERE g.tenant_id = o.tenant_id AND g.owner_id = o.id), '{}') AS grants
    FROM owners o WHERE o.tenant_id = $1 AND o.id = ANY($2::uuid[])`;

/** The power of each owner, read in the caller's transaction (a second connection would starve the pool under load). */
export async function powersOf(
  tx: Tx,
  tenantId: string,
  ownerIds: readonly string[],
): Promise<Map<string, OwnerPower>> {
  const rows: Array<{ id: string; permissions: Permission[]; grants: string[] }> = await tx.query(POWER, [
    tenantId,
    [...new Set(ownerIds)],
  ]);
  return new Map(rows.map((r) => [r.id, { permissions: new Set(r.permissions), grants: new Set(r.grants) }]));
}

/** What `target` holds that `caller` does not, in words (empty: the caller holds it all). */
export function powerMissing(caller: OwnerPower, target: OwnerPower): string[] {
  const has = (x: Permission) => caller.permissions.has(x);
  const missing: string[] = [...target.permissions].filter((x) => !has(x)).sort();
  // A credential administrator may grant itself any credential; everyone else must hold the grants.
  if (!has(Permission.CREDENTIAL_ADMIN)) {
    const grants = [...target.grants].filter((g) => !caller.grants.has(g)).length;
    if (grants > 0) missing.push(`grants on ${grants} credential${grants === 1 ? '' : 's'}`);
  }
  return missing;
}

/**
 * Refuses unless the principal holds everything each owner holds. `verb` says what was refused
 * ("issue a CONTROL token for"). The caller's own tokens are always its own to manage.
 */
export async function assertHoldsPowerOf(
  tx: Tx,
  p: Principal,
  ownerIds: readonly string[],
  verb: string,
): Promise<void> {
  const others = [...new Set(ownerIds)].filter((id) => id !== p.ownerId);
  if (others.length === 0) return;
  const powers = await powersOf(tx, p.tenantId, [p.ownerId, ...others]);
  const own = powers.get(p.ownerId);
  const caller: OwnerPower = { permissions: p.permissions, grants: own?.grants ?? new Set() };
  for (const id of others) {
    const target = powers.get(id);
    if (!target) continue; // the caller's lookup of the owner answers NOT_FOUND
    const missing = powerMissing(caller, target);
    if (missing.length > 0) {
      throw forbidden(
        `you may not ${verb} owner ${JSON.stringify(id)}: it holds what you do not (${missing.join(', ')})`,
        {
          ownerId: id,
          missing,
          missingPermissions: missing.filter((m): m is Permission =>
            (Object.values(Permission) as string[]).includes(m),
          ),
        },
      );
    }
  }
}

/**
 * Who was last handed each live CONTROL token of these owners: the actor of its issue or of its
 * last rotation by hand (a scheduled rotation hands the successor to whoever held the secret
 * before, so custody passes through it unchanged). Latchkey itself (null) and the owner are skipped.
 */
const HOLDERS = `
  SELECT id, owner_id, holder FROM (
    SELECT t.id, t.owner_id,
           (SELECT e.actor_id FROM audit_events e
             WHERE e.tenant_id = t.tenant_id AND e.target_id = t.id
               AND (e.action = 'TOKEN_ISSUED' OR (e.action = 'TOKEN_ROTATED' AND e.data->>'scheduled' = 'false'))
             ORDER BY e.seq DESC LIMIT 1) AS holder
      FROM tokens t
     WHERE t.tenant_id = $1 AND t.owner_id = ANY($2::uuid[]) AND t.kind = 'CONTROL' AND t.status <> 'REVOKED'
       AND (t.expires_at IS NULL OR t.expires_at > now())
  ) h WHERE holder IS NOT NULL AND holder <> owner_id`;

/**
 * After an owner gained power (a grant, a role), refuses when one of its CONTROL tokens was handed
 * to someone else who does not hold that power: the token minted for an empty service account
 * would otherwise carry whatever the service is given later. Run inside the changing transaction.
 */
export async function assertHoldersHoldPowerOf(tx: Tx, tenantId: string, ownerIds: readonly string[]): Promise<void> {
  if (ownerIds.length === 0) return;
  const held: Array<{ id: string; owner_id: string; holder: string }> = await tx.query(HOLDERS, [
    tenantId,
    [...new Set(ownerIds)],
  ]);
  if (held.length === 0) return;
  const powers = await powersOf(tx, tenantId, [...new Set(held.flatMap((h) => [h.owner_id, h.holder]))]);
  const weaker = held.filter((h) => {
    const [owner, holder] = [powers.get(h.owner_id), powers.get(h.holder)];
    return owner && (!holder || powerMissing(holder, owner).length > 0);
  });
  if (weaker.length === 0) return;
  throw conflict(
    `owner ${JSON.stringify(weaker[0]!.owner_id)} has CONTROL tokens handed to someone who would not hold what this gives it (${weaker
      .map((w) => w.id)
      .slice(0, 10)
      .join(', ')}): rotate them yourself, or revoke them, first`,
    { tokens: weaker.map((w) => w.id).slice(0, 100), ownerId: weaker[0]!.owner_id },
  );
}
