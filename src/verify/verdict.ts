// The verification decision as a pure function of what is known about a secret, the caller and
// the clock. Failures are checked in the contract's order.
import { NetworkMatcher } from '../platform/networks';
import { VerifyFailure, type VerifyResult } from './verify.types';

/** What verification needs to know about a secret: never the secret or its hash. */
export interface SecretRecord {
  tokenId: string;
  tenantId: string;
  ownerId: string;
  secretState: 'CURRENT' | 'PREVIOUS' | 'RETIRED' | 'REVOKED';
  graceEndsAt: number | null;
  tokenStatus: 'ACTIVE' | 'SUSPENDED' | 'EXPIRED' | 'REVOKED';
  /** CONTROL tokens authenticate to Latchkey itself; DATA tokens only reach APIs. */
  kind: 'CONTROL' | 'DATA';
  expiresAt: number | null;
  scopes: string[];
  /** The token row's version when this was read: a cache fill older than an invalidation is refused. */
  version: number;
  createdAt: number;
  rateLimit: { requests: number; per: number } | null;
  allowedCidrs: string[] | null;
}

export function failed(failure: VerifyFailure, r?: SecretRecord): VerifyResult {
  return {
    valid: false,
    failure,
    tokenId: r?.tokenId ?? null,
    ownerId: r?.ownerId ?? null,
    tenantId: r?.tenantId ?? null,
    scopes: [],
    expiresAt: r?.expiresAt ? new Date(r.expiresAt) : null,
    rotationPending: false,
  };
}

// Records are shared by the in-process cache, so each one compiles its networks once.
const matchers = new WeakMap<SecretRecord, NetworkMatcher>();

export function ipAllowed(r: SecretRecord, clientIp: string | null | undefined): boolean {
  if (!r.allowedCidrs) return true;
  let m = matchers.get(r);
  if (!m) matchers.set(r, (m = new NetworkMatcher(r.allowedCidrs)));
  return m.allows(clientIp);
}

/**
 * Decides on a secret already looked up. `tenantId` is the verifying caller's tenant: another
 * tenant's token is NOT_FOUND. Expiry is decided by the clock, never by whether a job ran.
 * Rate limits are not decided here: they need the shared counter.
 */
export function decide(
  r: SecretRecord | null,
  tenantId: string | null,
  requiredScopes: readonly string[],
  now: number,
  clientIp?: string | null,
): VerifyResult {
  if (!r || (tenantId !== null && r.tenantId !== tenantId)) return failed(VerifyFailure.NOT_FOUND);
  if (r.tokenStatus === 'REVOKED' || r.secretState === 'REVOKED') return failed(VerifyFailure.REVOKED, r);
  if (r.tokenStatus === 'SUSPENDED') return failed(VerifyFailure.SUSPENDED, r);
  if (
    r.tokenStatus === 'EXPIRED' ||
    (r.expiresAt !== null && r.expiresAt <= now) ||
    r.secretState === 'RETIRED' ||
    (r.secretState === 'PREVIOUS' && (r.graceEndsAt === null || r.graceEndsAt <= now))
  ) {
    return failed(VerifyFailure.EXPIRED, r);
  }
  if (!ipAllowed(r, clientIp)) return failed(VerifyFailure.IP_NOT_ALLOWED, r);
  const result: VerifyResult = {
    valid: true,
    failure: null,
    tokenId: r.tokenId,
    ownerId: r.ownerId,
    tenantId: r.tenantId,
    scopes: r.scopes,
    expiresAt: r.expiresAt ? new Date(r.expiresAt) : null,
    rotationPending: r.secretState === 'PREVIOUS',
  };
  for (const s of requiredScopes) {
    if (!r.scopes.includes(s)) return { ...result, valid: false, failure: VerifyFailure.INSUFFICIENT_SCOPE };
  }
  return result;
}
/** When a secret stops verifying by the clock alone: the token's expiry, or a PREVIOUS secret's grace. */
export function validUntil(r: SecretRecord | null): number | null {
  if (!r) return null;
  const ends = [r.expiresAt, r.secretState === 'PREVIOUS' ? r.graceEndsAt : null].filter(
    (x): x is number => x !== null,
  );
  return ends.length ? Math.min(...ends) : null;
}
