import type { MigrationInterface, QueryRunner } from 'typeorm';

// The scheduled lifecycle. Schedules are columns with partial indexes that hold only what can
// still fall due, so the planner's cost follows what is due, not the size of the table:
// - tokens.next_rotation_at (existing), tokens.expires_at (existing) and tokens.next_notify_at
//   (the next expiry warning not yet sent);
// - token_secrets.grace_ends_at of PREVIOUS secrets (retirement).
// tokens.requested_expires_at keeps the expiry asked for at issue, so a policy change can re-cap it.
// A successor made by a scheduled rotation waits, sealed, on its secret row until it is picked
// up or the grace period ends; first_used_at drives reuse detection.
export class AddLifecycle1764543600000 implements MigrationInterface {
  name = 'AddLifecycle1764543600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE tokens
        ADD COLUMN requested_expires_at timestamptz,
        ADD COLUMN next_notify_at timestamptz`);
    await q.query(`UPDATE tokens SET requested_expires_at = expires_at`);
    await q.query(`
      ALTER TABLE token_secrets
        ADD COLUMN sealed text,
        ADD COLUMN sealed_key_id text,
        ADD COLUMN picked_up_at timestamptz,
        ADD COLUMN first_used_at timestamptz,
        ADD CONSTRAINT token_secrets_sealed_pair CHECK ((sealed IS NULL) = (sealed_key_id IS NULL))`);
    await q.query(`
      ALTER TABLE rotation_policies
        ADD COLUMN on_reuse text NOT NULL DEFAULT 'NOTIFY' CHECK (on_reuse IN ('NOTIFY', 'REVOKE'))`);
    await q.query(
      `CREATE INDEX tokens_due_rotation_idx ON tokens (next_rotation_at) WHERE status = 'ACTIVE' AND next_rotation_at IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX tokens_due_expiry_idx ON tokens (expires_at) WHERE status IN ('ACTIVE', 'SUSPENDED') AND expires_at IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX tokens_due_notify_idx ON tokens (next_notify_at) WHERE status IN ('ACTIVE', 'SUSPENDED') AND next_notify_at IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX token_secrets_due_retire_idx ON token_secrets (grace_ends_at) WHERE state = 'PREVIOUS'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX token_secrets_due_retire_idx`);
    await q.query(`DROP INDEX tokens_due_notify_idx`);
    await q.query(`DROP INDEX tokens_due_expiry_idx`);
    await q.query(`DROP INDEX tokens_due_rotation_idx`);
    await q.query(`ALTER TABLE rotation_policies DROP COLUMN on_reuse`);
    await q.query(
      `ALTER TABLE token_secrets DROP CONSTRAINT token_secrets_sealed_pair, DROP COLUMN sealed, DROP COLUMN sealed_key_id, DROP COLUMN picked_up_at, DROP COLUMN first_used_at`,
    );
    await q.query(`ALTER TABLE tokens DROP COLUMN requested_expires_at, DROP COLUMN next_notify_at`);
  }
}
