// Bulk seeding for benchmarks and the lifecycle's reliability tests: tokens written straight to Postgres (100,000 GraphQL calls would
// measure the API, not the path under test). Seeded tokens have no audit events.
import type { Client } from 'pg';
import { uuidv7 } from '../../src/platform/ids';
import { generateToken, hashToken, tokenHint } from '../../src/tokens/token-format';

export interface SeedSpec {
  tenantId: string;
  ownerId: string;
  scopeIds: string[];
  count: number;
  pepper: Buffer;
  /** Extra columns per token, by index. */
  columns?: (i: number) => Partial<{
    expires_at: Date | null;
    next_rotation_at: Date | null;
    next_notify_at: Date | null;
    rotation_policy_id: string | null;
  }>;
}

/** Inserts `count` tokens with one CURRENT secret each; returns their ids and plaintext secrets. */
export async function seedTokens(
  db: Client,
  spec: SeedSpec,
  onProgress?: (done: number) => void,
): Promise<{ ids: string[]; secrets: string[] }> {
  const ids: string[] = [];
  const secrets: string[] = [];
  const BATCH = 5_000;
  for (let start = 0; start < spec.count; start += BATCH) {
    const n = Math.min(BATCH, spec.count - start);
    const rows = Array.from({ length: n }, (_, k) => {
      const i = start + k;
      const secret = generateToken();
      return { id: uuidv7(), secret, hash: hashToken(spec.pepper, secret), i, extra: spec.columns?.(i) ?? {} };
    });
    await db.query('BEGIN');
    await db.query(
      `INSERT INTO tokens (id, tenant_id, owner_id, name, labels, status, generation, expires_at, requested_expires_at, next_rotation_at, next_notify_at, rotation_policy_id, kind)
       SELECT id, $1, $2, 'seed-' || i, '{}', 'ACTIVE', 1, exp, exp, nxt, ntf, pol, $9
         FROM unnest($3::uuid[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::uuid[], $8::timestamptz[]) AS u(id, i, exp, nxt, pol, ntf)`,
      [
        spec.tenantId,
        spec.ownerId,
        rows.map((r) => r.id),
        rows.map((r) => r.i),
        rows.map((r) => r.extra.expires_at ?? null),
        rows.map((r) => r.extra.next_rotation_at ?? null),
        rows.map((r) => r.extra.rotation_policy_id ?? null),
        rows.map((r) => r.extra.next_notify_at ?? null),
        spec.scopeIds.length > 0 ? 'DATA' : 'CONTROL',
      ],
    );
    for (const scopeId of spec.scopeIds) {
      await db.query(
        `INSERT INTO token_scopes (tenant_id, token_id, scope_id) SELECT $1, id, $2 FROM unnest($3::uuid[]) AS id`,
        [spec.tenantId, scopeId, rows.map((r) => r.id)],
      );
    }
    await db.query(
      `INSERT INTO token_secrets (id, tenant_id, token_id, generation, hash, hint, state)
       SELECT sid, $1, tid, 1, h, hint, 'CURRENT' FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS u(sid, tid, h, hint)`,
      [
        spec.tenantId,
        rows.map(() => uuidv7()),
        rows.map((r) => r.id),
        rows.map((r) => r.hash),
        rows.map((r) => tokenHint(r.secret)),
      ],
    );
    await db.query('COMMIT');
    for (const r of rows) {
      ids.push(r.id);
      secrets.push(r.secret);
    }
    onProgress?.(ids.length);
  }
  await db.query('ANALYZE tokens; ANALYZE token_secrets; ANALYZE token_scopes');
  return { ids, secrets };
}
