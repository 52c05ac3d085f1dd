import type { MigrationInterface, QueryRunner } from 'typeorm';

// Managed credentials: values others issued (a CRM's API key), sealed under a per-tenant data key
// that the key ring wraps. A credential has versions in four states; the partial unique indexes
// make "exactly one CURRENT, at most one PENDING" hold under any concurrency, and the CHECK makes
// a RETIRED version one whose ciphertext is gone. Reading a value takes a grant on the credential.
// next_notify_at is when the jobs next say something about a version's expiry (a warning, then
// the expiry itself).
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
];
const NEW = ['CREDENTIAL_READ', 'CREDENTIAL_WRITE'];
const list = (ps: string[]) => ps.map((p) => `'${p}'`).join(', ');

export class AddManagedCredentials1764975600000 implements MigrationInterface {
  name = 'AddManagedCredentials1764975600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE roles DROP CONSTRAINT roles_permissions_check`);
    await q.query(
      `ALTER TABLE roles ADD CONSTRAINT roles_permissions_check CHECK (permissions <@ ARRAY[${list([...PERMISSIONS, ...NEW])}]::text[])`,
    );
    await q.query(
      `UPDATE roles SET permissions = permissions || ARRAY[${list(NEW)}]::text[] WHERE built_in AND name = 'admin'`,
    );
    await q.query(
      `UPDATE roles SET permissions = permissions || ARRAY['CREDENTIAL_READ']::text[] WHERE built_in AND name = 'auditor'`,
    );

    await q.query(`
      CREATE TABLE tenant_data_keys (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL UNIQUE REFERENCES tenants (id),
        key_id text NOT NULL,
        wrapped_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        rewrapped_at timestamptz,
        UNIQUE (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX tenant_data_keys_key_id_idx ON tenant_data_keys (key_id)`);

    await q.query(`
      CREATE TABLE credentials (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
        service text CHECK (length(service) <= 200),
        description text CHECK (length(description) <= 1000),
        owner_id uuid NOT NULL,
        labels jsonb NOT NULL DEFAULT '{}',
        rotation_policy_id uuid,
        rotator jsonb,
        rotator_secret_ciphertext text,
        rotator_secret_key_id text,
        rotate_every_s integer CHECK (rotate_every_s > 0),
        grace_period_s integer NOT NULL DEFAULT 3600 CHECK (grace_period_s >= 0),
        next_rotation_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        UNIQUE (tenant_id, id),
        UNIQUE (tenant_id, name),
        FOREIGN KEY (tenant_id, owner_id) REFERENCES owners (tenant_id, id),
        FOREIGN KEY (tenant_id, rotation_policy_id) REFERENCES rotation_policies (tenant_id, id)
      )`);

    await q.query(`
      CREATE TABLE credential_versions (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        credential_id uuid NOT NULL,
        version integer NOT NULL CHECK (version > 0),
        state text NOT NULL CHECK (state IN ('CURRENT', 'PENDING', 'PREVIOUS', 'RETIRED')),
        ciphertext text,
        data_key_id uuid,
        expires_at timestamptz,
        grace_ends_at timestamptz,
        created_by uuid,
        created_at timestamptz NOT NULL,
        retired_at timestamptz,
        next_notify_at timestamptz,
        rotation_id uuid,
        UNIQUE (tenant_id, id),
        UNIQUE (credential_id, version),
        CHECK ((state = 'RETIRED') = (ciphertext IS NULL)),
        CHECK ((ciphertext IS NULL) = (data_key_id IS NULL)),
        CHECK (state <> 'PREVIOUS' OR grace_ends_at IS NOT NULL),
        FOREIGN KEY (tenant_id, credential_id) REFERENCES credentials (tenant_id, id) ON DELETE CASCADE,
        FOREIGN KEY (tenant_id, data_key_id) REFERENCES tenant_data_keys (tenant_id, id)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX credential_versions_one_current ON credential_versions (credential_id) WHERE state = 'CURRENT'`,
    );
    await q.query(
      `CREATE UNIQUE INDEX credential_versions_one_pending ON credential_versions (credential_id) WHERE state = 'PENDING'`,
    );
    await q.query(
      `CREATE INDEX credential_versions_grace_idx ON credential_versions (grace_ends_at) WHERE state = 'PREVIOUS'`,
    );
    await q.query(
      `CREATE INDEX credential_versions_notify_idx ON credential_versions (next_notify_at) WHERE state IN ('CURRENT', 'PREVIOUS') AND next_notify_at IS NOT NULL`,
    );

    await q.query(
      `CREATE INDEX credentials_due_rotation_idx ON credentials (next_rotation_at) WHERE rotator IS NOT NULL AND next_rotation_at IS NOT NULL`,
    );

    // A rotation walks the rotator's steps (create, set, test, finish), one job per step; at most
    // one runs per credential. It ends DONE, FAILED (CURRENT untouched, the PENDING value kept
    // sealed) or ABANDONED (stuck past its deadline; the PENDING value destroyed).
    await q.query(`
      CREATE TABLE credential_rotations (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        credential_id uuid NOT NULL,
        state text NOT NULL CHECK (state IN ('RUNNING', 'DONE', 'FAILED', 'ABANDONED')),
        step text NOT NULL CHECK (step IN ('create', 'set', 'test', 'finish')),
        pending_version integer,
        started_by uuid,
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        deadline timestamptz NOT NULL,
        ended_at timestamptz,
        failure text CHECK (length(failure) <= 1000),
        UNIQUE (tenant_id, id),
        FOREIGN KEY (tenant_id, credential_id) REFERENCES credentials (tenant_id, id) ON DELETE CASCADE
      )`);
    await q.query(
      `CREATE UNIQUE INDEX credential_rotations_one_running ON credential_rotations (credential_id) WHERE state = 'RUNNING'`,
    );

    await q.query(`
      CREATE TABLE credential_grants (
        tenant_id uuid NOT NULL,
        credential_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        granted_by uuid,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (credential_id, owner_id),
        FOREIGN KEY (tenant_id, credential_id) REFERENCES credentials (tenant_id, id) ON DELETE CASCADE,
        FOREIGN KEY (tenant_id, owner_id) REFERENCES owners (tenant_id, id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX credential_grants_owner_idx ON credential_grants (tenant_id, owner_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `DROP TABLE credential_grants, credential_rotations, credential_versions, credentials, tenant_data_keys`,
    );
    await q.query(
      `UPDATE roles SET permissions = array_remove(array_remove(permissions, 'CREDENTIAL_READ'), 'CREDENTIAL_WRITE')`,
    );
    await q.query(`ALTER TABLE roles DROP CONSTRAINT roles_permissions_check`);
    await q.query(
      `ALTER TABLE roles ADD CONSTRAINT roles_permissions_check CHECK (permissions <@ ARRAY[${list(PERMISSIONS)}]::text[])`,
    );
  }
}
