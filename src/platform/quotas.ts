// How many of each thing a tenant may hold, where the API lists them whole: every list returns a
// bounded number of items, and the operation cost rule prices it by that bound.
import { conflict } from './errors';
import type { Tx } from './db';

export const QUOTAS = {
  /** The scope catalogue of a tenant. */
  scopes: 1_000,
  roles: 100,
  rotationPolicies: 100,
  webhooks: 100,
  /** Owners granted on one credential (grant a team owner for more). */
  readersPerCredential: 100,
} as const;

/**
 * Refuses (CONFLICT) when `max` rows already match `FROM sql`: the quota is reached. Creations
 * counted against the same quota wait for each other (a lock held to the end of the transaction),
 * so two at once cannot both take the last place.
 */
export async function assertBelowQuota(
  tx: Tx,
  what: string,
  max: number,
  sql: string,
  params: unknown[],
): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`quota ${sql} ${JSON.stringify(params)}`]);
  const [row] = await tx.query(`SELECT count(*)::int AS n FROM ${sql}`, params);
  if (row.n >= max) throw conflict(`${what}: at most ${max}; delete some first`, { quota: max });
}
