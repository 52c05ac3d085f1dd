import type { MigrationInterface, QueryRunner } from 'typeorm';

// CREDENTIAL_ADMIN: writing a credential no longer implies reading it. Granting oneself, and
// setting the rotator of a credential one is not granted on, take this permission. The built-in
// admin gets it, and so does any role that held all of a tenant's administration, so that the
// rule "some owner holds everything" stays true.
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
  'CREDENTIAL_READ',
  'CREDENTIAL_WRITE',
  'WEBHOOK_READ',
];
const list = (ps: string[]) => ps.map((p) => `'${p}'`).join(', ');

export class AddCredentialAdmin1765148400000 implements MigrationInterface {
  name = 'AddCredentialAdmin1765148400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE roles DROP CONSTRAINT roles_permissions_check`);
    await q.query(
      `ALTER TABLE roles ADD CONSTRAINT roles_permissions_check CHECK (permissions <@ ARRAY[${list([...PERMISSIONS, 'CREDENTIAL_ADMIN'])}]::text[])`,
    );
    await q.query(
      `UPDATE roles SET permissions = permissions || ARRAY['CREDENTIAL_ADMIN']::text[] WHERE (built_in AND name = 'admin') OR permissions @> ARRAY[${list(PERMISSIONS.filter((p) => p !== 'PLATFORM_ADMIN'))}]::text[]`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE roles SET permissions = array_remove(permissions, 'CREDENTIAL_ADMIN')`);
    await q.query(`ALTER TABLE roles DROP CONSTRAINT roles_permissions_check`);
    await q.query(
      `ALTER TABLE roles ADD CONSTRAINT roles_permissions_check CHECK (permissions <@ ARRAY[${list(PERMISSIONS)}]::text[])`,
    );
  }
}
