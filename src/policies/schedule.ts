// When things happen to a token under a policy. Pure functions: the API, the planner and the
// rotation preview all compute schedules here.
import type { RotationPolicy } from './rotation-policy.entity';

type Policy = Pick<RotationPolicy, 'rotateEvery' | 'expireAfter' | 'gracePeriod'>;

const addSeconds = (d: Date, s: number) => new Date(d.getTime() + s * 1000);

/** Expiry: the explicit one, capped by the policy's lifetime counted from `from`. */
export function expiryFor(from: Date, explicit: Date | null, policy: Policy | null): Date | null {
  const cap = policy?.expireAfter ? addSeconds(from, policy.expireAfter) : null;
  if (!cap) return explicit;
  if (!explicit) return cap;
  return explicit < cap ? explicit : cap;
}

/** The next scheduled rotation after one at `rotatedAt`, or null when none is due before expiry. */
export function nextRotationFor(rotatedAt: Date, expiresAt: Date | null, policy: Policy | null): Date | null {
  if (!policy?.rotateEvery) return null;
  const next = addSeconds(rotatedAt, policy.rotateEvery);
  return expiresAt && next >= expiresAt ? null : next;
}

/** Grace for the secret a rotation replaces: the explicit one, else the policy's, else an hour. */
export function graceFor(explicit: number | null | undefined, policy: Policy | null): number {
  return explicit ?? policy?.gracePeriod ?? 3_600;
}
