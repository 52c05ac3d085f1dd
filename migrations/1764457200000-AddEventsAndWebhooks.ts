import type { MigrationInterface, QueryRunner } from 'typeorm';

// Events leave the database through one relay: it remembers, per tenant, the last seq it
// published, so a relay that dies between commit and publish resumes where it stopped. Webhooks
// and their deliveries, and signed checkpoints of the audit chain.
const PERMISSIONS = [
  'PLATFORM_ADMIN',
  'TENANT_ADMIN',
  'OWNER_READ',
  'OWNER_WRITE',
  'ROLE_READ',
  'ROLE_WRITE',
  'SCOPE_READ',
  'SCOPE_WRITE',
  'TOKEN_READ',
  'TOKEN_CREATE',
  'TOKEN_ROTATE',
  'TOKEN_REVOKE',
  'TOKEN_VERIFY',
  'TOKEN_ALL_OWNERS',
  'POLICY_READ',
  'POLICY_WRITE',
  'AUDIT_READ',
  'WEBHOOK_WRITE',
]
  .map((p) => `'${p}'`)
  .join(', ');

export class AddEventsAndWebhooks1764457200000 implements MigrationInterface {
  name = 'AddEventsAndWebhooks1764457200000';

  async up(q: QueryRunner): Promise<void> {
    // A new permission, held by the built-in admin role of every tenant.
    await q.query(`ALTER TABLE roles DROP CONSTRAINT roles_permissions_check`);
    await q.query(
      `ALTER TABLE roles ADD CONSTRAINT roles_permissions_check CHECK (permissions <@ ARRAY[${PERMISSIONS}]::text[])`,
    );
    await q.query(
      `UPDATE roles SET permissions = array_append(permissions, 'WEBHOOK_WRITE') WHERE built_in AND name = 'admin'`,
    );

    await q.query(`
      CREATE TABLE audit_relay (
        tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
        published_seq bigint NOT NULL CHECK (published_seq >= 0)
      )`);
    // Everything already in the log counts as published: nobody was listening for it.
    await q.query(`INSERT INTO audit_relay (tenant_id, published_seq) SELECT tenant_id, seq FROM audit_heads`);

    await q.query(`
      CREATE TABLE audit_checkpoints (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        seq bigint NOT NULL CHECK (seq >= 1),
        hash char(64) NOT NULL,
        key_id text NOT NULL,
        signature text NOT NULL,
        signed_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, seq)
      )`);

    await q.query(`
      CREATE TABLE webhooks (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        url text NOT NULL CHECK (length(url) <= 2048 AND url ~ '^https?://'),
        events text[] NOT NULL,
        description text CHECK (length(description) <= 1000),
        status text NOT NULL CHECK (status IN ('ACTIVE', 'DISABLED')),
        disabled_reason text,
        secret_ciphertext text NOT NULL,
        secret_key_id text NOT NULL,
        previous_secret_ciphertext text,
        previous_secret_key_id text,
        previous_secret_until timestamptz,
        last_success_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        UNIQUE (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX webhooks_tenant_status_idx ON webhooks (tenant_id, status)`);

    await q.query(`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        webhook_id uuid NOT NULL,
        event_id uuid NOT NULL,
        event_seq bigint NOT NULL,
        event_action text NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'DEAD')),
        attempts integer NOT NULL DEFAULT 0,
        last_attempt_at timestamptz,
        last_status integer,
        last_error text,
        last_response text,
        created_at timestamptz NOT NULL,
        delivered_at timestamptz,
        FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE,
        UNIQUE (webhook_id, event_id)
      )`);
    await q.query(
      `CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (tenant_id, webhook_id, status, created_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE roles SET permissions = array_remove(permissions, 'WEBHOOK_WRITE')`);
    await q.query(`ALTER TABLE roles DROP CONSTRAINT roles_permissions_check`);
    await q.query(
      `ALTER TABLE roles ADD CONSTRAINT roles_permissions_check CHECK (permissions <@ ARRAY[${PERMISSIONS.replace(", 'WEBHOOK_WRITE'", '')}]::text[])`,
    );
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhooks`);
    await q.query(`DROP TABLE audit_checkpoints`);
    await q.query(`DROP TABLE audit_relay`);
  }
}
