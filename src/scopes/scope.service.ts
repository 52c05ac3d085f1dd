// The scope catalogue of each tenant, and the rules for who may hand a scope out.
import type { DataSource, EntityManager } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { hasPermission, type Principal } from '../iam/principal';
import { Permission } from '../iam/permissions';
import { isUniqueViolation } from '../platform/db';
import { badInput, conflict, forbidden } from '../platform/errors';
import { requireId, uuidv7 } from '../platform/ids';
import { assertBelowQuota, QUOTAS } from '../platform/quotas';
import { TenantScope } from '../platform/tenant-scope';
import { groupBy } from '../platform/batch';
import { OwnerScopeRow, TokenScopeRow } from './scope-links.entity';
import { isScopeName, scopeAccess } from './scope-name';
import { Scope } from './scope.entity';
import type { CreateScopeInput, ScopeUsage, UpdateScopeInput } from './scope.types';

export class ScopeService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
  ) {}

  async list(p: Principal): Promise<Scope[]> {
    return new TenantScope(this.ds.manager, p.tenantId).select(Scope, 's').orderBy('s.name', 'ASC').getMany();
  }

  async create(p: Principal, input: CreateScopeInput): Promise<Scope> {
    const name = input.name.trim();
    if (!isScopeName(name)) {
      throw badInput(
        `scope name ${JSON.stringify(input.name)} must look like <service>:<resource>:<read|write>, for example crm:sales.summary:read`,
        { argument: 'name' },
      );
    }
    return this.ds.transaction(async (tx) => {
      await assertBelowQuota(tx, 'scopes in the catalogue', QUOTAS.scopes, 'scopes WHERE tenant_id = $1', [p.tenantId]);
      const scope: Scope = {
        id: uuidv7(),
        tenantId: p.tenantId,
        name,
        description: input.description ?? null,
        access: scopeAccess(name),
        createdAt: new Date(),
      };
      try {
        await new TenantScope(tx, p.tenantId).insert(Scope, [scope]);
      } catch (e) {
        if (isUniqueViolation(e)) throw conflict(`scope ${JSON.stringify(name)} already exists`, { name });
        throw e;
      }
      await this.audit.append(tx, p.tenantId, {
        action: 'SCOPE_CREATED',
        actorId: p.ownerId,
        targetType: 'SCOPE',
        targetId: scope.id,
        data: { name, description: scope.description },
      });
      return scope;
    });
  }

  async update(p: Principal, id: string, input: UpdateScopeInput): Promise<Scope> {
    requireId(id);
    return this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const row = await scope.get(Scope, id, 'scope', true);
      const description = input.description ?? null;
      if (description === row.description) return row;
      await scope.update(Scope, id, { description });
      await this.audit.append(tx, p.tenantId, {
        action: 'SCOPE_UPDATED',
        actorId: p.ownerId,
        targetType: 'SCOPE',
        targetId: id,
        data: { name: row.name, before: { description: row.description }, after: { description } },
      });
      return { ...row, description };
    });
  }

  /** What holds each scope: what delete refuses over, in the order of ids. */
  usage(tenantId: string, ids: readonly string[]): Promise<ScopeUsage[]> {
    return scopeUsage(this.ds.manager, tenantId, ids);
  }

  /**
   * Deletes a scope nobody can use any more: refused while an owner's ceiling or a live token
   * holds it; revoked and expired tokens lose it (their audit events keep it).
   */
  async delete(p: Principal, id: string): Promise<boolean> {
    requireId(id);
    return this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const row = await scope.get(Scope, id, 'scope', true);
      const [{ ownerCeilings: owners, liveTokens: tokens }] = await scopeUsage(tx, p.tenantId, [id]);
      if (owners > 0 || tokens > 0) {
        throw conflict(
          `scope ${JSON.stringify(row.name)} is still held by ${owners} owner ceiling(s) and ${tokens} live token(s)`,
          { owners, tokens },
        );
      }
      await tx.query(`DELETE FROM token_scopes WHERE tenant_id = $1 AND scope_id = $2`, [p.tenantId, id]);
      await tx.query(`DELETE FROM scopes WHERE tenant_id = $1 AND id = $2`, [p.tenantId, id]);
      await this.audit.append(tx, p.tenantId, {
        action: 'SCOPE_DELETED',
        actorId: p.ownerId,
        targetType: 'SCOPE',
        targetId: id,
        data: { name: row.name },
      });
      return true;
    });
  }

  /** Scope rows for names, in the given order without duplicates; unknown names are bad input. */
  async resolve(scope: TenantScope, names: readonly string[], argument: string): Promise<Scope[]> {
    const unique = [...new Set(names.map((n) => n.trim()))];
    if (unique.length === 0) return [];
    const malformed = unique.filter((n) => !isScopeName(n));
    if (malformed.length > 0) {
      throw badInput(`not scope names: ${malformed.map((n) => JSON.stringify(n)).join(', ')}`, { argument });
    }
    const rows = await scope.select(Scope, 's').andWhere('s.name IN (:...names)', { names: unique }).getMany();
    const byName = new Map(rows.map((r) => [r.name, r]));
    const unknown = unique.filter((n) => !byName.has(n));
    if (unknown.length > 0) {
      throw badInput(`unknown scope${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, {
        argument,
        unknownScopes: unknown,
      });
    }
    return unique.map((n) => byName.get(n)!);
  }

  /** The ids of the owner's ceiling. */
  async ceilingOf(scope: TenantScope, ownerId: string): Promise<Set<string>> {
    const rows = await scope.select(OwnerScopeRow, 'os').andWhere('os.ownerId = :ownerId', { ownerId }).getMany();
    return new Set(rows.map((r) => r.scopeId));
  }

  /**
   * Refuses to hand out scopes the principal does not hold itself. A TENANT_ADMIN holds the
   * whole catalogue; everyone else holds its own ceiling.
   */
  async assertMayGrant(scope: TenantScope, p: Principal, scopes: Scope[]): Promise<void> {
    if (scopes.length === 0 || hasPermission(p, Permission.TENANT_ADMIN)) return;
    const held = await this.ceilingOf(scope, p.ownerId);
    const missing = scopes.filter((s) => !held.has(s.id)).map((s) => s.name);
    if (missing.length > 0) {
      throw forbidden(`you cannot grant scopes you do not hold: ${missing.join(', ')}`, { scopes: missing });
    }
  }

  async byOwnerIds(tenantId: string, ownerIds: readonly string[]): Promise<Scope[][]> {
    const scope = new TenantScope(this.ds.manager, tenantId);
    const links = await scope
      .select(OwnerScopeRow, 'os')
      .andWhere('os.ownerId IN (:...ownerIds)', { ownerIds })
      .getMany();
    return this.group(scope, ownerIds, links, (l) => l.ownerId);
  }

  async byTokenIds(tenantId: string, tokenIds: readonly string[]): Promise<Scope[][]> {
    const scope = new TenantScope(this.ds.manager, tenantId);
    const links = await scope
      .select(TokenScopeRow, 'ts')
      .andWhere('ts.tokenId IN (:...tokenIds)', { tokenIds })
      .getMany();
    return this.group(scope, tokenIds, links, (l) => l.tokenId);
  }

  private async group<L extends { scopeId: string }>(
    scope: TenantScope,
    keys: readonly string[],
    links: L[],
    keyOf: (link: L) => string,
  ): Promise<Scope[][]> {
    const scopes = new Map(
      (await scope.findByIds(Scope, [...new Set(links.map((l) => l.scopeId))])).map((s) => [s.id, s]),
    );
    return groupBy(keys, links, keyOf).map((ls) =>
      ls.map((l) => scopes.get(l.scopeId)!).sort((a, b) => a.name.localeCompare(b.name)),
    );
  }
}

async function scopeUsage(m: EntityManager, tenantId: string, ids: readonly string[]): Promise<ScopeUsage[]> {
  return m.query(
    `SELECT (SELECT count(*) FROM owner_scopes os WHERE os.tenant_id = $1 AND os.scope_id = s.id)::int AS "ownerCeilings",
            (SELECT count(*) FROM token_scopes ts JOIN tokens t ON t.tenant_id = ts.tenant_id AND t.id = ts.token_id
              WHERE ts.tenant_id = $1 AND ts.scope_id = s.id AND t.status IN ('ACTIVE', 'SUSPENDED'))::int AS "liveTokens"
       FROM unnest($2::uuid[]) WITH ORDINALITY AS s(id, n) ORDER BY s.n`,
    [tenantId, ids],
  );
}
