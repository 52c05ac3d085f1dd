import type { MigrationInterface, QueryRunner } from 'typeorm';

// WEBHOOK_READ: reading webhook endpoints and their deliveries without managing them, so that an
// auditor (and a plan in a pull request) sees them. Roles that manage webhooks keep reading them.
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
];
const list = (ps: string[]) => ps.map((p) => `'${p}'`).join(', ');

export class AddWebhookRead1765062000000 implements MigrationInterface {
  name = 'AddWebhookRead1765062000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE roles DROP CONSTRAINT roles_permissions_check`);
    await q.query(
      `ALTER TABLE roles ADD CONSTRAINT roles_permissions_check CHECK (permissions <@ ARRAY[${list([...PERMISSIONS, 'WEBHOOK_READ'])}]::text[])`,
    );
    await q.query(
      `UPDATE roles SET permissions = permissions || ARRAY['WEBHOOK_READ']::text[] WHERE (built_in AND name IN ('admin', 'auditor')) OR 'WEBHOOK_WRITE' = ANY (permissions)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE roles SET permissions = array_remove(permissions, 'WEBHOOK_READ')`);
    await q.query(`ALTER TABLE roles DROP CONSTRAINT roles_permissions_check`);
    await q.query(
      `ALTER TABLE roles ADD CONSTRAINT roles_permissions_check CHECK (permissions <@ ARRAY[${list(PERMISSIONS)}]::text[])`,
    );
  }
}
