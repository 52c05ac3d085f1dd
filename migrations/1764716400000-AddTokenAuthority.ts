import type { MigrationInterface, QueryRunner } from 'typeorm';

// Authority that must not be inferred later:
// - kind: whether a token may call Latchkey itself (CONTROL) or only the APIs its scopes reach
//   (DATA), fixed at issue. Existing tokens take the kind their issue made of them: DATA when
//   they were issued with scopes, even if a shrinking ceiling has since taken every scope away.
// - restrictions_locked: its networks, rate limit or policy were set by someone other than its
//   owner, so the owner alone may only tighten them.
export class AddTokenAuthority1764716400000 implements MigrationInterface {
  name = 'AddTokenAuthority1764716400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tokens ADD COLUMN kind text NOT NULL DEFAULT 'DATA' CHECK (kind IN ('CONTROL', 'DATA')),
                                      ADD COLUMN restrictions_locked boolean NOT NULL DEFAULT false`);
    await q.query(`
      UPDATE tokens t SET kind = 'CONTROL'
       WHERE NOT EXISTS (SELECT 1 FROM token_scopes s WHERE s.tenant_id = t.tenant_id AND s.token_id = t.id)
         AND NOT EXISTS (SELECT 1 FROM audit_events e
                          WHERE e.tenant_id = t.tenant_id AND e.target_id = t.id AND e.action = 'TOKEN_ISSUED'
                            AND jsonb_array_length(coalesce(e.data->'scopes', '[]'::jsonb)) > 0)`);
    await q.query(`
      UPDATE tokens t SET restrictions_locked = true
       WHERE (t.allowed_cidrs IS NOT NULL OR t.rate_limit IS NOT NULL OR t.rotation_policy_id IS NOT NULL)
         AND EXISTS (SELECT 1 FROM audit_events e
                      WHERE e.tenant_id = t.tenant_id AND e.target_id = t.id
                        AND e.action IN ('TOKEN_ISSUED', 'TOKEN_UPDATED', 'TOKEN_POLICY_SET')
                        AND e.actor_id IS DISTINCT FROM t.owner_id)`);
    await q.query(`ALTER TABLE tokens ALTER COLUMN kind DROP DEFAULT`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tokens DROP COLUMN restrictions_locked, DROP COLUMN kind`);
  }
}
