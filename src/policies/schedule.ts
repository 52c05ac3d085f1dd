// When things happen to a token under a policy. Pure functions: issuing, re-planning after a
// policy change, the workers and the rotation preview all compute schedules here.
import type { RotationPolicy } from './rotation-policy.entity';

export type Policy = Pick<RotationPolicy, 'rotateEvery' | 'expireAfter' | 'gracePeriod' | 'notifyBefore'>;

const addSeconds = (d: Date, s: number) => new Date(d.getTime() + s * 1000);
const sameInstant = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

/** Expiry: the explicit one, capped by the policy's lifetime counted from `from`. */
export function expiryFor(from: Date, explicit: Date | null, policy: Pick<Policy, 'expireAfter'> | null): Date | null {
  const cap = policy?.expireAfter ? addSeconds(from, policy.expireAfter) : null;
  if (!cap) return explicit;
  if (!explicit) return cap;
  return explicit < cap ? explicit : cap;
}

/** The next scheduled rotation after one at `rotatedAt`, or null when none is due before expiry. */
export function nextRotationFor(
  rotatedAt: Date,
  expiresAt: Date | null,
  policy: Pick<Policy, 'rotateEvery'> | null,
): Date | null {
  if (!policy?.rotateEvery) return null;
  const next = addSeconds(rotatedAt, policy.rotateEvery);
  return expiresAt && next >= expiresAt ? null : next;
}

/** Grace for the secret a rotation replaces: the explicit one, else the policy's, else an hour. */
export function graceFor(explicit: number | null | undefined, policy: Pick<Policy, 'gracePeriod'> | null): number {
  return explicit ?? policy?.gracePeriod ?? 3_600;
}

/** The earliest expiry warning at or after `notBefore` (warnings whose moment has passed are not sent late). */
export function nextNotifyFor(expiresAt: Date | null, notifyBefore: readonly number[], notBefore: Date): Date | null {
  if (!expiresAt) return null;
  let next: Date | null = null;
  for (const s of notifyBefore) {
    const at = addSeconds(expiresAt, -s);
    if (at >= notBefore && at < expiresAt && (!next || at < next)) next = at;
  }
  return next;
}

/**
 * The warning a notify action sends at `now`: the threshold closest to expiry whose moment has
 * come (when several passed while nothing ran, one warning says the most urgent thing).
 */
export function warningAt(expiresAt: Date, notifyBefore: readonly number[], now: Date): number | null {
  let best: number | null = null;
  for (const s of notifyBefore) {
    if (addSeconds(expiresAt, -s) <= now && (best === null || s < best)) best = s;
  }
  return best;
}

/** What a token's schedule is computed from. */
export interface ScheduleBasis {
  createdAt: Date;
  /** The expiry asked for at issue. */
  requestedExpiresAt: Date | null;
  /** When its CURRENT secret was made. */
  rotatedAt: Date;
  /** The schedule as it stands (for warnings already sent). */
  expiresAt: Date | null;
  nextNotifyAt: Date | null;
}

export interface Schedule {
  expiresAt: Date | null;
  nextRotationAt: Date | null;
  nextNotifyAt: Date | null;
}

/**
 * A token's schedule under `policy`: expiry counted from issue (a policy's lifetime applies to
 * every token under it), rotation from the last rotation, and warnings that are still to come.
 * When the expiry instant does not move, warnings already sent are not sent again.
 */
export function scheduleFor(b: ScheduleBasis, policy: Policy | null, now: Date): Schedule {
  const expiresAt = expiryFor(b.createdAt, b.requestedExpiresAt, policy);
  const nextRotationAt = nextRotationFor(b.rotatedAt, expiresAt, policy);
  const notBefore =
    sameInstant(expiresAt, b.expiresAt) && b.nextNotifyAt && b.nextNotifyAt < now ? b.nextNotifyAt : now;
  return { expiresAt, nextRotationAt, nextNotifyAt: nextNotifyFor(expiresAt, policy?.notifyBefore ?? [], notBefore) };
}

export function sameSchedule(a: Schedule, b: Schedule): boolean {
  return (
    sameInstant(a.expiresAt, b.expiresAt) &&
    sameInstant(a.nextRotationAt, b.nextRotationAt) &&
    sameInstant(a.nextNotifyAt, b.nextNotifyAt)
  );
}
