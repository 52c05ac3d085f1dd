// Every change of a credential's state (its versions, its rotations, its schedule), as named
// functions that take the caller's transaction: the service, the rotations and the clock all move
// credentials through these, and nothing else writes a version's state, a rotation's or a
// credential's schedule. Callers lock, re-check and audit; these only write.
import { isUniqueViolation, type Tx } from '../platform/db';
import { TenantScope } from '../platform/tenant-scope';
import { CredentialRotation, CredentialVersion, type RotationStep, type RotatorConfig } from './credential.entity';

/** A retired version keeps its number and history; its ciphertext is destroyed. */
const RETIRE = `state = 'RETIRED', ciphertext = NULL, data_key_id = NULL, retired_at = now(), next_notify_at = NULL`;

/** Which versions of a credential `retire` destroys. */
export type Retiring = 'PREVIOUS' | 'PREVIOUS_AND_CURRENT' | 'PENDING';
const RETIRING: Record<Retiring, string> = {
  PREVIOUS: `state = 'PREVIOUS'`,
  PREVIOUS_AND_CURRENT: `state IN ('PREVIOUS', 'CURRENT')`,
  PENDING: `state = 'PENDING'`,
};

/** A new version (CURRENT, or PENDING for a rotation), its value already sealed. */
export async function insertVersion(tx: Tx, row: CredentialVersion): Promise<void> {
  await new TenantScope(tx, row.tenantId).insert(CredentialVersion, [row]);
}

/** Retires the credential's versions in `which`; returns their numbers. */
export async function retire(tx: Tx, credentialId: string, which: Retiring): Promise<number[]> {
  // TypeORM answers an UPDATE with [rows, count].
  const [rows]: [Array<{ version: number }>, number] = await tx.query(
    `UPDATE credential_versions SET ${RETIRE} WHERE credential_id = $1 AND ${RETIRING[which]} RETURNING version`,
    [credentialId],
  );
  return rows.map((r) => r.version);
}

/** Retires one PREVIOUS version (its grace ended); false when it is no longer PREVIOUS. */
export async function retirePrevious(tx: Tx, credentialId: string, version: number): Promise<boolean> {
  const [rows]: [unknown[], number] = await tx.query(
    `UPDATE credential_versions SET ${RETIRE} WHERE credential_id = $1 AND version = $2 AND state = 'PREVIOUS' RETURNING version`,
    [credentialId, version],
  );
  return rows.length > 0;
}

/**
 * Retires, in one statement, up to `limit` PREVIOUS versions whose grace ended and whose
 * credential passes `where` (over `c`), skipping rows another worker holds.
 */
export async function retireDue(
  tx: Tx,
  where: string,
  limit: number,
): Promise<Array<{ tenant_id: string; credential_id: string; version: number; name: string }>> {
  return tx.query(
    `WITH due AS (
       SELECT v.id FROM credential_versions v JOIN credentials c ON c.id = v.credential_id
        WHERE v.state = 'PREVIOUS' AND v.grace_ends_at <= now() AND ${where}
        ORDER BY v.grace_ends_at LIMIT ${limit} FOR UPDATE OF v SKIP LOCKED
     ), retired AS (
       UPDATE credential_versions v SET ${RETIRE} FROM due WHERE v.id = due.id RETURNING v.tenant_id, v.credential_id, v.version
     )
     SELECT r.tenant_id, r.credential_id, r.version, c.name FROM retired r JOIN credentials c ON c.id = r.credential_id`,
  );
}

/** The CURRENT version becomes PREVIOUS, readable until `graceEndsAt`; returns its number (null: none). */
export async function demoteCurrent(tx: Tx, credentialId: string, graceEndsAt: Date): Promise<number | null> {
  const [[row]]: [[{ version: number }?]] = await tx.query(
    `UPDATE credential_versions SET state = 'PREVIOUS', grace_ends_at = $2 WHERE credential_id = $1 AND state = 'CURRENT' RETURNING version`,
    [credentialId, graceEndsAt],
  );
  return row?.version ?? null;
}

/** The PENDING version a rotation made becomes CURRENT. */
export async function promotePending(tx: Tx, credentialId: string, rotationId: string): Promise<CredentialVersion> {
  const [[row]] = await tx.query(
    `UPDATE credential_versions SET state = 'CURRENT' WHERE credential_id = $1 AND state = 'PENDING' AND rotation_id = $2 RETURNING *`,
    [credentialId, rotationId],
  );
  return { ...row, expiresAt: row.expires_at } as CredentialVersion;
}

/** The next warning of each version (null: nothing more to say). */
export async function setNextNotify(tx: Tx, versionIds: string[], at: Array<Date | null>): Promise<void> {
  if (versionIds.length === 0) return;
  await tx.query(
    `UPDATE credential_versions v SET next_notify_at = n.at FROM unnest($1::uuid[], $2::timestamptz[]) AS n(id, at) WHERE v.id = n.id`,
    [versionIds, at],
  );
}

export async function touch(tx: Tx, credentialId: string): Promise<void> {
  await tx.query(`UPDATE credentials SET updated_at = now() WHERE id = $1`, [credentialId]);
}

export async function setNextRotation(tx: Tx, credentialId: string, at: Date | null): Promise<void> {
  await tx.query(`UPDATE credentials SET next_rotation_at = $2 WHERE id = $1`, [credentialId, at]);
}

export interface RotatorSetting {
  rotator: RotatorConfig;
  sealedSecret: { ciphertext: string; keyId: string } | null;
  rotateEveryS: number | null;
  gracePeriodS: number;
  nextRotationAt: Date | null;
}

export async function setRotator(tx: Tx, credentialId: string, s: RotatorSetting): Promise<void> {
  await tx.query(
    `UPDATE credentials SET rotator = $2, rotator_secret_ciphertext = $3, rotator_secret_key_id = $4, rotate_every_s = $5, grace_period_s = $6, next_rotation_at = $7, updated_at = now() WHERE id = $1`,
    [
      credentialId,
      s.rotator,
      s.sealedSecret?.ciphertext ?? null,
      s.sealedSecret?.keyId ?? null,
      s.rotateEveryS,
      s.gracePeriodS,
      s.nextRotationAt,
    ],
  );
}

// Rotations.

/** A rotation begins; false (and nothing written) when one of the credential is already running. */
export async function startRotation(tx: Tx, rotation: CredentialRotation): Promise<boolean> {
  try {
    await tx.query('SAVEPOINT start_rotation');
    await new TenantScope(tx, rotation.tenantId).insert(CredentialRotation, [rotation]);
    return true;
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    await tx.query('ROLLBACK TO SAVEPOINT start_rotation');
    return false;
  }
}

export async function setPendingVersion(tx: Tx, rotationId: string, version: number): Promise<void> {
  await tx.query(`UPDATE credential_rotations SET pending_version = $2 WHERE id = $1`, [rotationId, version]);
}

/** Moves a running rotation from step `from` to `to`; false when it had moved on or ended. */
export async function advanceStep(q: Tx, rotationId: string, from: RotationStep, to: RotationStep): Promise<boolean> {
  const [, moved] = await q.query(
    `UPDATE credential_rotations SET step = $2, updated_at = now() WHERE id = $1 AND state = 'RUNNING' AND step = $3`,
    [rotationId, to, from],
  );
  return moved > 0;
}

export async function finishRotation(tx: Tx, rotationId: string): Promise<void> {
  await tx.query(`UPDATE credential_rotations SET state = 'DONE', ended_at = now(), updated_at = now() WHERE id = $1`, [
    rotationId,
  ]);
}

/** A running rotation fails with `reason`; what it was about, or null when it was not running. */
export async function failRotation(
  tx: Tx,
  rotationId: string,
  reason: string,
): Promise<{ credential_id: string; pending_version: number | null; name: string } | null> {
  const [[row]] = await tx.query(
    `UPDATE credential_rotations r SET state = 'FAILED', failure = $2, ended_at = now(), updated_at = now() FROM credentials c
      WHERE r.id = $1 AND r.state = 'RUNNING' AND c.id = r.credential_id RETURNING r.credential_id, r.pending_version, c.name`,
    [rotationId, reason],
  );
  return row ?? null;
}

/** Rotations past their deadline are abandoned, what they made destroyed (CURRENT untouched). */
export async function abandonOverdue(
  tx: Tx,
): Promise<Array<{ id: string; tenant_id: string; credential_id: string; name: string; step: string }>> {
  return tx.query(
    `WITH gone AS (
       UPDATE credential_rotations SET state = 'ABANDONED', ended_at = now(), updated_at = now(), failure = 'abandoned at step ' || step || ' past its deadline'
        WHERE state = 'RUNNING' AND deadline <= now() RETURNING id, tenant_id, credential_id, step
     ), destroyed AS (
       UPDATE credential_versions v SET ${RETIRE} FROM gone WHERE v.rotation_id = gone.id AND v.state = 'PENDING' RETURNING v.id
     )
     SELECT gone.*, c.name FROM gone JOIN credentials c ON c.id = gone.credential_id ORDER BY gone.tenant_id`,
  );
}
