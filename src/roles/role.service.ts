// Roles, role bindings and the permissions they give. Nobody can grant what they do not hold.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { ChangeNotifier } from '../platform/change-notifier';
import { Owner } from '../owners/owner.entity';
import { groupBy } from '../platform/batch';
import { isUniqueViolation, type Tx } from '../platform/db';
import { conflict, forbidden } from '../platform/errors';
import { requireId, uuidv7 } from '../platform/ids';
import { assertBelowQuota, QUOTAS } from '../platform/quotas';
import { TenantScope } from '../platform/tenant-scope';
import type { Principal } from '../iam/principal';
import {
  BUILT_IN_ROLES,
  type BuiltInRole,
  Permission,
  PLATFORM_ADMIN_ROLE,
  TENANT_ADMINISTRATION,
} from '../iam/permissions';
import { Role, RoleBindingRow } from './role.entity';
import type { CreateRoleInput, UpdateRoleInput } from './role.types';
import { assertHoldersHoldPowerOf } from '../iam/owner-power';

export class RoleService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly changes: ChangeNotifier,
  ) {}

  /** Creates the built-in roles of a new tenant (and platform-admin in the first one). */
  async createBuiltIns(tx: Tx, tenantId: string, withPlatformAdmin: boolean): Promise<Map<string, Role>> {
    const now = new Date();
    const defs = withPlatformAdmin ? [...BUILT_IN_ROLES, PLATFORM_ADMIN_ROLE] : BUILT_IN_ROLES;
    const roles: Role[] = defs.map((d) => ({
      id: uuidv7(),
      tenantId,
      name: d.name,
      description: d.description,
      permissions: [...d.permissions],
      builtIn: true,
      createdAt: now,
      updatedAt: now,
    }));
    await new TenantScope(tx, tenantId).insert(Role, roles);
    return new Map(roles.map((r) => [r.name, r]));
  }

  /** Binds without checks: for provisioning a tenant. */
  async bind(tx: Tx, tenantId: string, ownerId: string, roleId: string): Promise<void> {
    await new TenantScope(tx, tenantId).insert(RoleBindingRow, [{ ownerId, roleId, createdAt: new Date() }]);
  }

  async list(p: Principal): Promise<Role[]> {
    return new TenantScope(this.ds.manager, p.tenantId).select(Role, 'r').orderBy('r.name', 'ASC').getMany();
  }

  async create(p: Principal, input: CreateRoleInput): Promise<Role> {
    const permissions = [...new Set(input.permissions)].sort();
    this.assertMayGrant(p, permissions);
    return this.ds.transaction(async (tx) => {
      await assertBelowQuota(tx, 'roles', QUOTAS.roles, 'roles WHERE tenant_id = $1', [p.tenantId]);
      const now = new Date();
      const role: Role = {
        id: uuidv7(),
        tenantId: p.tenantId,
        name: input.name,
        description: input.description ?? null,
        permissions,
        builtIn: false,
        createdAt: now,
        updatedAt: now,
      };
      try {
        await new TenantScope(tx, p.tenantId).insert(Role, [role]);
      } catch (e) {
        if (isUniqueViolation(e))
          throw conflict(`role ${JSON.stringify(input.name)} already exists`, { name: input.name });
        throw e;
      }
      await this.audit.append(tx, p.tenantId, {
        action: 'ROLE_CREATED',
        actorId: p.ownerId,
        targetType: 'ROLE',
        targetId: role.id,
        data: { name: role.name, description: role.description, permissions },
      });
      return role;
    });
  }

  async update(p: Principal, id: string, input: UpdateRoleInput): Promise<Role> {
    requireId(id);
    const role = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const role = await scope.get(Role, id, 'role', true);
      if (role.builtIn) throw forbidden(`built-in role ${JSON.stringify(role.name)} cannot be changed`);
      const permissions = input.permissions ? [...new Set(input.permissions)].sort() : role.permissions;
      // Changing a role grants its new permissions to every holder and takes away the old ones.
      this.assertMayGrant(p, [...permissions, ...role.permissions]);
      const description =
        input.description === undefined || input.description === null ? role.description : input.description;
      const before = { description: role.description, permissions: role.permissions };
      const after = { description, permissions };
      if (JSON.stringify(before) === JSON.stringify(after)) return role;
      await scope.update(Role, id, { description, permissions, updatedAt: new Date() });
      if (role.permissions.some((x) => !permissions.includes(x))) await this.assertAdminRemains(tx, p.tenantId);
      if (permissions.some((x) => !role.permissions.includes(x))) {
        const bound: Array<{ owner_id: string }> = await tx.query(
          `SELECT owner_id FROM role_bindings WHERE tenant_id = $1 AND role_id = $2`,
          [p.tenantId, id],
        );
        await assertHoldersHoldPowerOf(
          tx,
          p.tenantId,
          bound.map((b) => b.owner_id),
        );
      }
      await this.audit.append(tx, p.tenantId, {
        action: 'ROLE_UPDATED',
        actorId: p.ownerId,
        targetType: 'ROLE',
        targetId: id,
        data: { name: role.name, before, after },
      });
      return { ...role, ...after };
    });
    await this.changes.permissionsChanged();
    return role;
  }

  /** Deletes a custom role that nobody holds. */
  async delete(p: Principal, id: string): Promise<boolean> {
    requireId(id);
    return this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const role = await scope.get(Role, id, 'role', true);
      if (role.builtIn) throw forbidden(`built-in role ${JSON.stringify(role.name)} cannot be deleted`);
      const [{ n }] = await tx.query(
        `SELECT count(*)::int AS n FROM role_bindings WHERE tenant_id = $1 AND role_id = $2`,
        [p.tenantId, id],
      );
      if (n > 0) throw conflict(`role ${JSON.stringify(role.name)} is still held by ${n} owner(s)`, { owners: n });
      await tx.query(`DELETE FROM roles WHERE tenant_id = $1 AND id = $2`, [p.tenantId, id]);
      await this.audit.append(tx, p.tenantId, {
        action: 'ROLE_DELETED',
        actorId: p.ownerId,
        targetType: 'ROLE',
        targetId: id,
        data: { name: role.name, permissions: role.permissions },
      });
      return true;
    });
  }

  async assign(p: Principal, ownerId: string, roleId: string): Promise<Owner> {
    return this.changeBinding(p, ownerId, roleId, 'assign');
  }

  async unassign(p: Principal, ownerId: string, roleId: string): Promise<Owner> {
    return this.changeBinding(p, ownerId, roleId, 'unassign');
  }

  private async changeBinding(
    p: Principal,
    ownerId: string,
    roleId: string,
    op: 'assign' | 'unassign',
  ): Promise<Owner> {
    requireId(ownerId, 'ownerId');
    requireId(roleId, 'roleId');
    const owner = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const owner = await scope.get(Owner, ownerId, 'owner', true);
      const role = await scope.get(Role, roleId, 'role');
      if (role.permissions.includes(Permission.PLATFORM_ADMIN)) {
        throw forbidden(
          `role ${JSON.stringify(role.name)} carries PLATFORM_ADMIN, which cannot be granted or taken away`,
        );
      }
      this.assertMayGrant(p, role.permissions);
      const bound = await scope
        .select(RoleBindingRow, 'b')
        .andWhere('b.ownerId = :ownerId AND b.roleId = :roleId', { ownerId, roleId })
        .getExists();
      if (op === 'assign' && bound) return owner;
      if (op === 'unassign' && !bound) return owner;
      if (op === 'assign') {
        await scope.insert(RoleBindingRow, [{ ownerId, roleId, createdAt: new Date() }]);
        await assertHoldersHoldPowerOf(tx, p.tenantId, [ownerId]);
      } else {
        await tx.delete(RoleBindingRow, { tenantId: p.tenantId, ownerId, roleId });
        await this.assertAdminRemains(tx, p.tenantId);
      }
      await this.audit.append(tx, p.tenantId, {
        action: op === 'assign' ? 'ROLE_ASSIGNED' : 'ROLE_UNASSIGNED',
        actorId: p.ownerId,
        targetType: 'OWNER',
        targetId: ownerId,
        data: { roleId, role: role.name },
      });
      return owner;
    });
    await this.changes.permissionsChanged();
    return owner;
  }

  /**
   * A tenant must keep at least one owner who holds everything the built-in admin role holds
   * (through any of its roles), or nobody could ever fully administer it again: TENANT_ADMIN
   * alone does not let its holder manage roles, owners or tokens.
   */
  private async assertAdminRemains(tx: Tx, tenantId: string): Promise<void> {
    const rows: unknown[] = await tx.query(
      `SELECT b.owner_id FROM role_bindings b
         JOIN roles r ON r.tenant_id = b.tenant_id AND r.id = b.role_id
        CROSS JOIN LATERAL unnest(r.permissions) AS perm
        WHERE b.tenant_id = $1
        GROUP BY b.owner_id
       HAVING array_agg(perm) @> $2::text[]
        LIMIT 1`,
      [tenantId, TENANT_ADMINISTRATION],
    );
    if (rows.length === 0) {
      throw conflict(
        `this would leave the tenant without an administrator holding every one of ${TENANT_ADMINISTRATION.join(', ')}`,
        {
          required: TENANT_ADMINISTRATION,
        },
      );
    }
  }

  private assertMayGrant(p: Principal, permissions: readonly Permission[]): void {
    if (permissions.includes(Permission.PLATFORM_ADMIN)) {
      throw forbidden('PLATFORM_ADMIN cannot be granted: it belongs to the bootstrap admin of the first tenant');
    }
    const missing = [...new Set(permissions)].filter((x) => !p.permissions.has(x));
    if (missing.length > 0) {
      throw forbidden(`you cannot grant permissions you do not hold: ${missing.join(', ')}`, { permissions: missing });
    }
  }

  /** The union of the permissions of every role bound to the owner. */
  /** Inside a transaction, pass it: a second connection taken while one is held starves the pool under load. */
  async permissionsOf(tenantId: string, ownerId: string, tx: Tx = this.ds.manager): Promise<Set<Permission>> {
    const [roles] = await this.byOwnerIds(tenantId, [ownerId], tx);
    return new Set(roles!.flatMap((r) => r.permissions));
  }

  async byOwnerIds(tenantId: string, ownerIds: readonly string[], tx: Tx = this.ds.manager): Promise<Role[][]> {
    const scope = new TenantScope(tx, tenantId);
    const bindings = await scope
      .select(RoleBindingRow, 'b')
      .andWhere('b.ownerId IN (:...ownerIds)', { ownerIds })
      .getMany();
    const roles = new Map(
      (await scope.findByIds(Role, [...new Set(bindings.map((b) => b.roleId))])).map((r) => [r.id, r]),
    );
    return groupBy(ownerIds, bindings, (b) => b.ownerId).map((bs) =>
      bs.map((b) => roles.get(b.roleId)!).sort((a, b) => a.name.localeCompare(b.name)),
    );
  }

  async findBuiltIn(tx: Tx, tenantId: string, name: (typeof BuiltInRole)[keyof typeof BuiltInRole]): Promise<Role> {
    return new TenantScope(tx, tenantId).select(Role, 'r').andWhere('r.name = :name', { name }).getOneOrFail();
  }
}
