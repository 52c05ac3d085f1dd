import type { MigrationInterface, QueryRunner } from 'typeorm';

// Every tenant-owned table carries tenant_id, and references to other tenant-owned rows go
// through composite (tenant_id, id) foreign keys, so the database itself refuses a row that
// points into another tenant.
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
];

export class CreateCoreSchema1764284400000 implements MigrationInterface {
  name = 'CreateCoreSchema1764284400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    await q.query(`
      CREATE TABLE tenants (
        id uuid PRIMARY KEY,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name))`);

    await q.query(`
      CREATE TABLE owners (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        kind text NOT NULL CHECK (kind IN ('USER', 'TEAM', 'SERVICE')),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        email text CHECK (length(email) <= 320),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, id)
      )`);
    await q.query(`CREATE UNIQUE INDEX owners_tenant_name_key ON owners (tenant_id, lower(name))`);

    await q.query(`
      CREATE TABLE roles (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
        description text CHECK (length(description) <= 1000),
        permissions text[] NOT NULL CHECK (permissions <@ ARRAY[${PERMISSIONS.map((p) => `'${p}'`).join(', ')}]::text[]),
        built_in boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, id),
        UNIQUE (tenant_id, name)
      )`);

    await q.query(`
      CREATE TABLE role_bindings (
        tenant_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        role_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, owner_id, role_id),
        FOREIGN KEY (tenant_id, owner_id) REFERENCES owners (tenant_id, id) ON DELETE CASCADE,
        FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX role_bindings_role_idx ON role_bindings (tenant_id, role_id)`);

    await q.query(`
      CREATE TABLE scopes (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        name text NOT NULL CHECK (length(name) <= 200 AND name ~ '^[a-z][a-z0-9-]*:[a-z0-9][a-z0-9._-]*:(read|write)$'),
        description text CHECK (length(description) <= 1000),
        access text NOT NULL CHECK (access IN ('READ', 'WRITE')),
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, id),
        UNIQUE (tenant_id, name)
      )`);

    await q.query(`
      CREATE TABLE owner_scopes (
        tenant_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        scope_id uuid NOT NULL,
        PRIMARY KEY (tenant_id, owner_id, scope_id),
        FOREIGN KEY (tenant_id, owner_id) REFERENCES owners (tenant_id, id) ON DELETE CASCADE,
        FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX owner_scopes_scope_idx ON owner_scopes (tenant_id, scope_id)`);

    await q.query(`
      CREATE TABLE rotation_policies (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        rotate_every_s integer CHECK (rotate_every_s > 0),
        grace_period_s integer NOT NULL CHECK (grace_period_s >= 0),
        expire_after_s integer CHECK (expire_after_s > 0),
        notify_before_s integer[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, id)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX rotation_policies_tenant_name_key ON rotation_policies (tenant_id, lower(name))`,
    );

    await q.query(`
      CREATE TABLE tokens (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        description text CHECK (length(description) <= 1000),
        labels jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
        status text NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED', 'EXPIRED', 'REVOKED')),
        generation integer NOT NULL DEFAULT 1 CHECK (generation >= 1),
        rotation_policy_id uuid,
        expires_at timestamptz,
        next_rotation_at timestamptz,
        last_used_at timestamptz,
        usage_count bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        suspended_reason text,
        revoked_at timestamptz,
        revoked_reason text,
        UNIQUE (tenant_id, id),
        FOREIGN KEY (tenant_id) REFERENCES tenants (id),
        FOREIGN KEY (tenant_id, owner_id) REFERENCES owners (tenant_id, id),
        FOREIGN KEY (tenant_id, rotation_policy_id) REFERENCES rotation_policies (tenant_id, id),
        CHECK ((status = 'REVOKED') = (revoked_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX tokens_owner_idx ON tokens (tenant_id, owner_id, id)`);
    await q.query(`CREATE INDEX tokens_policy_idx ON tokens (tenant_id, rotation_policy_id)`);
    await q.query(`CREATE INDEX tokens_status_idx ON tokens (tenant_id, status, id)`);
    await q.query(`CREATE INDEX tokens_expires_idx ON tokens (tenant_id, expires_at)`);
    await q.query(`CREATE INDEX tokens_labels_idx ON tokens USING gin (labels jsonb_path_ops)`);
    await q.query(`CREATE INDEX tokens_name_trgm_idx ON tokens USING gin (name gin_trgm_ops)`);

    await q.query(`
      CREATE TABLE token_scopes (
        tenant_id uuid NOT NULL,
        token_id uuid NOT NULL,
        scope_id uuid NOT NULL,
        PRIMARY KEY (tenant_id, token_id, scope_id),
        FOREIGN KEY (tenant_id, token_id) REFERENCES tokens (tenant_id, id) ON DELETE CASCADE,
        FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX token_scopes_scope_idx ON token_scopes (tenant_id, scope_id)`);

    await q.query(`
      CREATE TABLE token_secrets (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        token_id uuid NOT NULL,
        generation integer NOT NULL CHECK (generation >= 1),
        hash char(64) NOT NULL,
        hint text NOT NULL,
        state text NOT NULL CHECK (state IN ('CURRENT', 'PREVIOUS', 'RETIRED', 'REVOKED')),
        created_at timestamptz NOT NULL DEFAULT now(),
        grace_ends_at timestamptz,
        ended_at timestamptz,
        FOREIGN KEY (tenant_id, token_id) REFERENCES tokens (tenant_id, id) ON DELETE CASCADE,
        UNIQUE (token_id, generation),
        CHECK (state <> 'PREVIOUS' OR grace_ends_at IS NOT NULL)
      )`);
    await q.query(`CREATE UNIQUE INDEX token_secrets_hash_key ON token_secrets (hash)`);
    await q.query(`CREATE INDEX token_secrets_token_idx ON token_secrets (tenant_id, token_id)`);
    // The database, not only the code, guarantees a token never has two CURRENT secrets.
    await q.query(`CREATE UNIQUE INDEX token_secrets_one_current ON token_secrets (token_id) WHERE state = 'CURRENT'`);

    await q.query(`
      CREATE TABLE audit_heads (
        tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
        seq bigint NOT NULL CHECK (seq >= 0),
        hash char(64) NOT NULL
      )`);
    await q.query(`
      CREATE TABLE audit_events (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        seq bigint NOT NULL CHECK (seq >= 1),
        at timestamptz NOT NULL,
        action text NOT NULL CHECK (action ~ '^[A-Z][A-Z_]{1,62}$'),
        actor_id uuid,
        target_type text NOT NULL,
        target_id uuid NOT NULL,
        data jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
        prev_hash char(64) NOT NULL,
        hash char(64) NOT NULL,
        UNIQUE (tenant_id, seq)
      )`);
    await q.query(`CREATE INDEX audit_events_action_idx ON audit_events (tenant_id, action, seq)`);
    await q.query(`CREATE INDEX audit_events_target_idx ON audit_events (tenant_id, target_id, seq)`);
    // Append-only in the database: no role, superuser included, may change or remove history.
    await q.query(`
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'audit_events',
      'audit_heads',
      'token_secrets',
      'token_scopes',
      'tokens',
      'rotation_policies',
      'owner_scopes',
      'scopes',
      'role_bindings',
      'roles',
      'owners',
      'tenants',
    ]) {
      await q.query(`DROP TABLE ${table}`);
    }
    await q.query(`DROP FUNCTION audit_events_append_only()`);
  }
}
