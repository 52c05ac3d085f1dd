// Tenants: creating one (with its built-in roles, an admin and the admin's first token) and
// bootstrapping the very first one on an empty database.
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { Principal } from '../iam/principal';
import { BuiltInRole, Permission } from '../iam/permissions';
import type { RoleService } from '../roles/role.service';
import { OwnerKind, type Owner } from '../owners/owner.entity';
import type { OwnerService } from '../owners/owner.service';
import { isUniqueViolation, type Tx } from '../platform/db';
import { conflict, notFound } from '../platform/errors';
import { uuidv7 } from '../platform/ids';
import { tokenHint } from '../tokens/token-format';
import type { Issued, TokenService } from '../tokens/token.service';
import { Tenant } from './tenant.entity';
import type { CreateTenantInput } from './tenant.types';

export interface Provisioned {
  tenant: Tenant;
  admin: Owner;
  adminToken: Issued;
}

export class TenantService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly roles: RoleService,
    private readonly owners: OwnerService,
    private readonly tokens: TokenService,
  ) {}

  async get(p: Principal): Promise<Tenant> {
    return this.ds.getRepository(Tenant).findOneByOrFail({ id: p.tenantId });
  }

  async create(p: Principal, input: CreateTenantInput): Promise<Provisioned> {
    return this.ds.transaction(async (tx) => {
      const created = await this.provision(tx, input, p.ownerId, false);
      await this.audit.append(tx, p.tenantId, {
        action: 'TENANT_CREATED',
        actorId: p.ownerId,
        targetType: 'TENANT',
        targetId: created.tenant.id,
        data: { name: created.tenant.name, adminId: created.admin.id },
      });
      return created;
    });
  }

  /**
   * On an empty database: creates the first tenant, its admin (admin + platform-admin roles)
   * and the admin's first token, written to `file` with mode 0600 before the transaction
   * commits, so a token that reached the database always reached the file too.
   */
  async bootstrap(tenantName: string, file: string, ttlS: number, log: Logger): Promise<boolean> {
    return this.ds.transaction(async (tx) => {
      const [{ exists }] = await tx.query('SELECT EXISTS (SELECT 1 FROM tenants) AS exists');
      if (exists) return false;
      const expiresAt = new Date(Date.now() + ttlS * 1000);
      const created = await this.provision(
        tx,
        { name: tenantName, adminName: 'admin', adminEmail: null },
        null,
        true,
        expiresAt,
      );
      writeSecretFile(file, created.adminToken.secret);
      log.info(
        {
          tenantId: created.tenant.id,
          adminId: created.admin.id,
          tokenHint: tokenHint(created.adminToken.secret),
          file,
          expiresAt,
        },
        'bootstrapped the first tenant; the admin token is in the bootstrap token file and expires at expiresAt: create a named admin before then',
      );
      return true;
    });
  }

  /**
   * Live control-plane tokens of the platform admin (the bootstrap owner, the only holder of
   * PLATFORM_ADMIN) that never expire or have lived longer than `ttlS`: each is a standing key to
   * every tenant, so start-up warns about each until it is revoked.
   */
  async longLivedPlatformTokens(
    ttlS: number,
  ): Promise<Array<{ id: string; tenantId: string; ownerId: string; createdAt: Date; expiresAt: Date | null }>> {
    const rows: Array<{ id: string; tenant_id: string; owner_id: string; created_at: Date; expires_at: Date | null }> =
      await this.ds.query(
        `SELECT t.id, t.tenant_id, t.owner_id, t.created_at, t.expires_at
         FROM tokens t
        WHERE t.kind = 'CONTROL' AND t.status = 'ACTIVE' AND (t.expires_at IS NULL OR t.expires_at > now())
          AND (t.expires_at IS NULL OR t.created_at < now() - make_interval(secs => $1))
          AND EXISTS (SELECT 1 FROM role_bindings b JOIN roles r ON r.tenant_id = b.tenant_id AND r.id = b.role_id
                       WHERE b.tenant_id = t.tenant_id AND b.owner_id = t.owner_id AND $2 = ANY(r.permissions))
        ORDER BY t.id`,
        [ttlS, Permission.PLATFORM_ADMIN],
      );
    return rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      ownerId: r.owner_id,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
    }));
  }

  /**
   * Break glass: a new short-lived token for whoever runs Latchkey's own configuration (database
   * and pepper): the platform admin's, or with `tenantName` that tenant's first administrator (an
   * owner of the built-in admin role), for a tenant whose admins lost their tokens. Audited.
   */
  async issueBreakGlassToken(
    ttlS: number,
    reason: string,
    tenantName: string | null = null,
  ): Promise<Issued & { tenantId: string; ownerId: string }> {
    return this.ds.transaction(async (tx) => {
      const [admin]: Array<{ tenant_id: string; owner_id: string }> = tenantName
        ? await tx.query(
            `SELECT b.tenant_id, b.owner_id FROM tenants t JOIN roles r ON r.tenant_id = t.id AND r.built_in AND r.name = $2
               JOIN role_bindings b ON b.tenant_id = t.id AND b.role_id = r.id WHERE t.name = $1 ORDER BY b.created_at LIMIT 1`,
            [tenantName, BuiltInRole.ADMIN],
          )
        : await tx.query(
            `SELECT b.tenant_id, b.owner_id FROM role_bindings b JOIN roles r ON r.tenant_id = b.tenant_id AND r.id = b.role_id
              WHERE $1 = ANY(r.permissions) ORDER BY b.created_at LIMIT 1`,
            [Permission.PLATFORM_ADMIN],
          );
      if (!admin) {
        throw tenantName
          ? notFound('tenant with an owner of the admin role', tenantName)
          : conflict('no owner holds PLATFORM_ADMIN: the database has not been bootstrapped');
      }
      const issued = await this.tokens.insert(tx, admin.tenant_id, null, {
        ownerId: admin.owner_id,
        kind: 'CONTROL',
        name: tenantName ? 'tenant admin (break glass)' : 'platform admin (break glass)',
        description: reason,
        labels: {},
        scopes: [],
        expiresAt: new Date(Date.now() + ttlS * 1000),
        policy: null,
      });
      return { ...issued, tenantId: admin.tenant_id, ownerId: admin.owner_id };
    });
  }

  private async provision(
    tx: Tx,
    input: CreateTenantInput,
    actorId: string | null,
    platform: boolean,
    expiresAt: Date | null = null,
  ): Promise<Provisioned> {
    const tenant: Tenant = { id: uuidv7(), name: input.name.trim(), createdAt: new Date() };
    try {
      await tx.insert(Tenant, tenant);
    } catch (e) {
      if (isUniqueViolation(e))
        throw conflict(`a tenant named ${JSON.stringify(tenant.name)} already exists`, { name: tenant.name });
      throw e;
    }
    await this.audit.initTenant(tx, tenant.id);
    const roles = await this.roles.createBuiltIns(tx, tenant.id, platform);
    const admin = await this.owners.insert(tx, tenant.id, {
      kind: OwnerKind.USER,
      name: input.adminName.trim(),
      email: input.adminEmail ?? null,
    });
    const bound = platform ? [BuiltInRole.ADMIN, BuiltInRole.PLATFORM_ADMIN] : [BuiltInRole.ADMIN];
    for (const name of bound) await this.roles.bind(tx, tenant.id, admin.id, roles.get(name)!.id);
    await this.audit.append(tx, tenant.id, [
      {
        action: 'TENANT_CREATED',
        actorId: null,
        targetType: 'TENANT',
        targetId: tenant.id,
        data: { name: tenant.name, createdBy: actorId },
      },
      {
        action: 'OWNER_CREATED',
        actorId: null,
        targetType: 'OWNER',
        targetId: admin.id,
        data: { kind: admin.kind, name: admin.name, email: admin.email, allowedScopes: [] },
      },
      ...bound.map((name) => ({
        action: 'ROLE_ASSIGNED' as const,
        actorId: null,
        targetType: 'OWNER',
        targetId: admin.id,
        data: { roleId: roles.get(name)!.id, role: name },
      })),
    ]);
    const adminToken = await this.tokens.insert(tx, tenant.id, null, {
      ownerId: admin.id,
      kind: 'CONTROL',
      name: 'initial admin token',
      description: 'Created with the tenant. Rotate it, or issue another and revoke this one.',
      labels: {},
      scopes: [],
      expiresAt,
      policy: null,
    });
    return { tenant, admin, adminToken };
  }
}

/** Writes a secret to a file only its owner can read, atomically. */
function writeSecretFile(file: string, secret: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${secret}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
