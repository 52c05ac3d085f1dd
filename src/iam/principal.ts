// Who is calling: the owner behind the bearer token, its tenant and its permissions.
import { forbidden } from '../platform/errors';
import { Permission } from './permissions';

export interface Principal {
  tenantId: string;
  ownerId: string;
  tokenId: string;
  permissions: ReadonlySet<Permission>;
}

export function hasPermission(p: Principal, permission: Permission): boolean {
  return p.permissions.has(permission);
}

export function requirePermission(p: Principal, ...needed: Permission[]): void {
  if (needed.length === 1 && p.permissions.has(needed[0]!)) return; // the hot path: one, held
  const missing = needed.filter((n) => !p.permissions.has(n));
  if (missing.length > 0) {
    throw forbidden(`this operation needs the ${missing.join(', ')} permission${missing.length > 1 ? 's' : ''}`, {
      missingPermissions: missing,
    });
  }
}

/** Owners whose tokens the principal may manage: everyone with TOKEN_ALL_OWNERS, else itself. */
export function tokenOwnerRestriction(p: Principal): string | null {
  return p.permissions.has(Permission.TOKEN_ALL_OWNERS) ? null : p.ownerId;
}
