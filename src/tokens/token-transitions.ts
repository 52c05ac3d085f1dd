// Every change of a token's state, as named functions that take the caller's transaction: the
// token service and the lifecycle workers both move tokens through these, and nothing else writes
// a token's status or a secret's state. Callers lock, re-check and audit; these only write.
import type { Tx } from '../platform/db';
import { uuidv7 } from '../platform/ids';
import type { RotationPolicy } from '../policies/rotation-policy.entity';
import { nextRotationFor, type Schedule, type ScheduleBasis, sameSchedule, scheduleFor } from '../policies/schedule';
import type { SecretHasher } from './secret-hasher';
import { TokenRow } from './token.entity';
import type { PolicySchedules } from '../policies/policy.service';
import type { CeilingTokens } from '../owners/owner.service';
import { TokenScopeRow } from '../scopes/scope-links.entity';

/** What a rotation reads and moves on a token row. */
export type RotatableRow = Pick<TokenRow, 'id' | 'generation' | 'expiresAt' | 'nextRotationAt' | 'updatedAt'>;

/** A live token with what its schedule is computed from. */
export interface ScheduledToken extends ScheduleBasis, Schedule {
  id: string;
  tenantId: string;
  status: string;
  generation: number;
  ownerId: string;
}

/**
 * Live tokens (ACTIVE or SUSPENDED) matching `where` (over `t`, parameters from $2), locked,
 * with the moment of their last rotation.
 */
export async function scheduledTokens(
  tx: Tx,
  tenantId: string,
  where: string,
  params: unknown[],
): Promise<ScheduledToken[]> {
  const rows: Array<Record<string, never>> = await tx.query(
    `SELECT t.id, t.tenant_id, t.owner_id, t.status, t.generation, t.created_at, t.requested_expires_at, t.expires_at,
            t.next_rotation_at, t.next_notify_at, s.created_at AS rotated_at
       FROM tokens t
       JOIN token_secrets s ON s.tenant_id = t.tenant_id AND s.token_id = t.id AND s.state = 'CURRENT'
      WHERE t.tenant_id = $1 AND t.status IN ('ACTIVE', 'SUSPENDED') AND ${where}
      ORDER BY t.id FOR UPDATE OF t`,
    [tenantId, ...params],
  );
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    ownerId: r.owner_id,
    status: r.status,
    generation: r.generation,
    createdAt: r.created_at,
    requestedExpiresAt: r.requested_expires_at,
    rotatedAt: r.rotated_at,
    expiresAt: r.expires_at,
    nextRotationAt: r.next_rotation_at,
    nextNotifyAt: r.next_notify_at,
  }));
}

/**
 * Rotates tokens of one tenant in a few statements whatever their number: each gets a new
 * CURRENT secret, its old CURRENT becomes PREVIOUS until its grace ends (REVOKED with no
 * grace), an older PREVIOUS is RETIRED and a successor nobody picked up is dropped. With
 * `seal`, each new secret is also kept sealed for pickup. Updates the rows in place and
 * returns the new secrets in the order of `items`.
 */
export async function addGenerations(
  tx: Tx,
  hasher: SecretHasher,
  tenantId: string,
  items: Array<{ row: RotatableRow; grace: number; policy: Pick<RotationPolicy, 'rotateEvery'> | null }>,
  now: Date,
  seal?: (secretId: string, secret: string) => { ciphertext: string; keyId: string },
): Promise<Array<{ secret: string; graceEndsAt: Date | null }>> {
  if (items.length === 0) return [];
  const ids = items.map((i) => i.row.id);
  const graceEnds = items.map((i) => (i.grace > 0 ? new Date(now.getTime() + i.grace * 1000) : null));
  await tx.query(
    `UPDATE token_secrets SET sealed = NULL, sealed_key_id = NULL WHERE tenant_id = $1 AND token_id = ANY($2) AND sealed IS NOT NULL`,
    [tenantId, ids],
  );
  await tx.query(
    `UPDATE token_secrets SET state = 'RETIRED', ended_at = $3 WHERE tenant_id = $1 AND token_id = ANY($2) AND state = 'PREVIOUS'`,
    [tenantId, ids, now],
  );
  await tx.query(
    `UPDATE token_secrets s
        SET state = CASE WHEN v.grace_ends_at IS NULL THEN 'REVOKED' ELSE 'PREVIOUS' END,
            grace_ends_at = v.grace_ends_at,
            ended_at = CASE WHEN v.grace_ends_at IS NULL THEN $2::timestamptz END
       FROM unnest($3::uuid[], $4::timestamptz[]) AS v(token_id, grace_ends_at)
      WHERE s.tenant_id = $1 AND s.token_id = v.token_id AND s.state = 'CURRENT'`,
    [tenantId, now, ids, graceEnds],
  );
  const secrets = items.map(({ row, policy }, i) => {
    row.generation += 1;
    row.nextRotationAt = nextRotationFor(now, row.expiresAt, policy);
    row.updatedAt = now;
    const minted = hasher.mint();
    const id = uuidv7();
    const sealed = seal && graceEnds[i] ? seal(id, minted.secret) : null;
    return { id, row, minted, sealed };
  });
  await tx.query(
    `INSERT INTO token_secrets (id, tenant_id, token_id, generation, hash, hint, state, created_at, sealed, sealed_key_id)
     SELECT id, $1, token_id, generation, hash, hint, 'CURRENT', $2, sealed, key_id
       FROM unnest($3::uuid[], $4::uuid[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[]) AS v(id, token_id, generation, hash, hint, sealed, key_id)`,
    [
      tenantId,
      now,
      secrets.map((x) => x.id),
      secrets.map((x) => x.row.id),
      secrets.map((x) => x.row.generation),
      secrets.map((x) => x.minted.hash),
      secrets.map((x) => x.minted.hint),
      secrets.map((x) => x.sealed?.ciphertext ?? null),
      secrets.map((x) => x.sealed?.keyId ?? null),
    ],
  );
  await tx.query(
    `UPDATE tokens t SET generation = v.generation, next_rotation_at = v.next_rotation_at, updated_at = $2
       FROM unnest($3::uuid[], $4::int[], $5::timestamptz[]) AS v(id, generation, next_rotation_at)
      WHERE t.tenant_id = $1 AND t.id = v.id`,
    [tenantId, now, ids, secrets.map((x) => x.row.generation), secrets.map((x) => x.row.nextRotationAt)],
  );
  return secrets.map((x, i) => ({ secret: x.minted.secret, graceEndsAt: graceEnds[i]! }));
}

/**
 * Re-plans tokens after their policy changed or was attached: expiry, next rotation and
 * warnings from `scheduleFor`. Returns the ids whose schedule moved.
 */
export async function replanSchedules(
  tx: Tx,
  tenantId: string,
  bases: ScheduledToken[],
  policy: RotationPolicy | null,
  now: Date,
): Promise<string[]> {
  // An expired token stays expired, whatever the new policy says.
  const changed = bases
    .filter((b) => !b.expiresAt || b.expiresAt > now)
    .map((b) => ({ b, next: scheduleFor(b, policy, now) }))
    .filter(({ b, next }) => !sameSchedule(b, next));
  for (let i = 0; i < changed.length; i += 5_000) {
    const chunk = changed.slice(i, i + 5_000);
    await tx.query(
      `UPDATE tokens t SET expires_at = v.e, next_rotation_at = v.r, next_notify_at = v.n, updated_at = $2
         FROM unnest($3::uuid[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[]) AS v(id, e, r, n)
        WHERE t.tenant_id = $1 AND t.id = v.id`,
      [
        tenantId,
        now,
        chunk.map((c) => c.b.id),
        chunk.map((c) => c.next.expiresAt),
        chunk.map((c) => c.next.nextRotationAt),
        chunk.map((c) => c.next.nextNotifyAt),
      ],
    );
  }
  return changed.map((c) => c.b.id);
}

/** Tokens and all their live secrets REVOKED; any successor waiting for pickup dropped. */
export async function revokeTokenRows(
  tx: Tx,
  tenantId: string,
  ids: readonly string[],
  reason: string,
  now: Date,
): Promise<void> {
  await tx.query(
    `UPDATE token_secrets SET state = CASE WHEN state IN ('CURRENT', 'PREVIOUS') THEN 'REVOKED' ELSE state END,
            ended_at = CASE WHEN state IN ('CURRENT', 'PREVIOUS') THEN $3 ELSE ended_at END,
            sealed = NULL, sealed_key_id = NULL
      WHERE tenant_id = $1 AND token_id = ANY($2) AND (state IN ('CURRENT', 'PREVIOUS') OR sealed IS NOT NULL)`,
    [tenantId, ids, now],
  );
  await tx.query(
    `UPDATE tokens SET status = 'REVOKED', revoked_at = $3, revoked_reason = $4, next_rotation_at = NULL, next_notify_at = NULL, updated_at = $3
      WHERE tenant_id = $1 AND id = ANY($2)`,
    [tenantId, ids, now, reason],
  );
}

/** Tokens EXPIRED; their live secrets RETIRED and any successor dropped. */
export async function expireTokenRows(tx: Tx, tenantId: string, ids: readonly string[], now: Date): Promise<void> {
  await tx.query(
    `UPDATE tokens SET status = 'EXPIRED', next_rotation_at = NULL, next_notify_at = NULL, updated_at = $3 WHERE tenant_id = $1 AND id = ANY($2)`,
    [tenantId, ids, now],
  );
  await tx.query(
    `UPDATE token_secrets SET state = 'RETIRED', ended_at = $3, sealed = NULL, sealed_key_id = NULL WHERE tenant_id = $1 AND token_id = ANY($2) AND state IN ('CURRENT', 'PREVIOUS')`,
    [tenantId, ids, now],
  );
}

/** PREVIOUS secrets past their grace RETIRED; the successors nobody picked up in it dropped. */
export async function retireSecrets(
  tx: Tx,
  tenantId: string,
  secretIds: readonly string[],
  tokenIds: readonly string[],
  now: Date,
): Promise<void> {
  await tx.query(`UPDATE token_secrets SET state = 'RETIRED', ended_at = $3 WHERE tenant_id = $1 AND id = ANY($2)`, [
    tenantId,
    secretIds,
    now,
  ]);
  await tx.query(
    `UPDATE token_secrets SET sealed = NULL, sealed_key_id = NULL WHERE tenant_id = $1 AND token_id = ANY($2) AND sealed IS NOT NULL`,
    [tenantId, tokenIds],
  );
  await tx.query(`UPDATE tokens SET updated_at = $3 WHERE tenant_id = $1 AND id = ANY($2)`, [tenantId, tokenIds, now]);
}

/** When each token's next expiry warning is due (null: none left). */
export async function setNextWarnings(
  tx: Tx,
  tenantId: string,
  ids: readonly string[],
  next: ReadonlyArray<Date | null>,
): Promise<void> {
  await tx.query(
    `UPDATE tokens t SET next_notify_at = v.next FROM unnest($2::uuid[], $3::timestamptz[]) AS v(id, next) WHERE t.tenant_id = $1 AND t.id = v.id`,
    [tenantId, ids, next],
  );
}

/** The token side of a policy change: its live tokens planned again (PolicyService calls it through its port). */
export const policySchedules: PolicySchedules = {
  async replan(tx, tenantId, policyId, policy, now) {
    const live = await scheduledTokens(tx, tenantId, 't.rotation_policy_id = $2', [policyId]);
    return { live: live.map((t) => t.id), replanned: await replanSchedules(tx, tenantId, live, policy, now) };
  },
};

/** A ceiling that shrinks takes the scopes off the owner's tokens too: least privilege holds (OwnerService calls it through its port). */
export const ceilingTokens: CeilingTokens = {
  async dropScopes(tx, tenantId, ownerId, scopeIds) {
    const rows: Array<{ token_id: string }> = await tx
      .createQueryBuilder()
      .delete()
      .from(TokenScopeRow)
      .where(
        `tenant_id = :tenantId AND scope_id IN (:...scopeIds) AND token_id IN (
           SELECT id FROM tokens WHERE tenant_id = :tenantId AND owner_id = :ownerId)`,
        { tenantId, ownerId, scopeIds },
      )
      .returning('token_id')
      .execute()
      .then((r) => r.raw);
    const ids = [...new Set(rows.map((r) => r.token_id))];
    if (ids.length > 0) {
      await tx
        .createQueryBuilder()
        .update(TokenRow)
        .set({ updatedAt: new Date() })
        .where('tenant_id = :tenantId AND id IN (:...ids)', { tenantId, ids })
        .execute();
    }
    return ids;
  },
};
