// Owners (users, teams, service accounts) and their scope ceilings.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { ChangeNotifier } from '../platform/change-notifier';
import { type Principal, requirePermission } from '../iam/principal';
import { Permission } from '../iam/permissions';
import { isUniqueViolation, type Tx } from '../platform/db';
import { badInput, conflict } from '../platform/errors';
import { decodeCursor, requireId, uuidv7 } from '../platform/ids';
import { type Connection, connection, pageSize } from '../platform/pagination';
import { TenantScope } from '../platform/tenant-scope';
import type { ScopeService } from '../scopes/scope.service';
import { OwnerScopeRow } from '../scopes/scope-links.entity';
import { Owner, type OwnerKind } from './owner.entity';
import type { CreateOwnerInput, UpdateOwnerInput } from './owner.types';

interface OwnerChange {
  owner: Owner;
  /** Tokens whose scopes were cut because the ceiling shrank. */
  affectedTokenIds: string[];
}

/** The owner's tokens, which a shrinking ceiling reaches (tokens/ keeps them). */
export interface CeilingTokens {
  /** Takes `scopeIds` off every token of the owner, in the caller's transaction; returns the tokens changed. */
  dropScopes(tx: Tx, tenantId: string, ownerId: string, scopeIds: string[]): Promise<string[]>;
}

export class OwnerService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly scopes: ScopeService,
    private readonly changes: ChangeNotifier,
    private readonly tokens: CeilingTokens,
  ) {}

  /** Inserts an owner without permission checks: for provisioning a tenant. */
  async insert(
    tx: Tx,
    tenantId: string,
    values: { kind: OwnerKind; name: string; email: string | null },
  ): Promise<Owner> {
    const now = new Date();
    const owner: Owner = { id: uuidv7(), tenantId, ...values, createdAt: now, updatedAt: now };
    try {
      await new TenantScope(tx, tenantId).insert(Owner, [owner]);
    } catch (e) {
      if (isUniqueViolation(e))
        throw conflict(`an owner named ${JSON.stringify(values.name)} already exists`, { name: values.name });
      throw e;
    }
    return owner;
  }

  async create(p: Principal, input: CreateOwnerInput): Promise<Owner> {
    return this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const ceiling = await this.scopes.resolve(scope, input.allowedScopes ?? [], 'allowedScopes');
      await this.scopes.assertMayGrant(scope, p, ceiling);
      const owner = await this.insert(tx, p.tenantId, {
        kind: input.kind,
        name: input.name.trim(),
        email: input.email ?? null,
      });
      await scope.insert(
        OwnerScopeRow,
        ceiling.map((s) => ({ ownerId: owner.id, scopeId: s.id })),
      );
      await this.audit.append(tx, p.tenantId, {
        action: 'OWNER_CREATED',
        actorId: p.ownerId,
        targetType: 'OWNER',
        targetId: owner.id,
        data: { kind: owner.kind, name: owner.name, email: owner.email, allowedScopes: ceiling.map((s) => s.name) },
      });
      return owner;
    });
  }

  async update(p: Principal, id: string, input: UpdateOwnerInput): Promise<Owner> {
    requireId(id);
    const change = await this.ds.transaction(async (tx): Promise<OwnerChange> => {
      const scope = new TenantScope(tx, p.tenantId);
      const owner = await scope.get(Owner, id, 'owner', true);
      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      const next = { ...owner };
      if (input.name != null && input.name.trim() !== owner.name) {
        if (input.name.trim() === '') throw badInput('name must not be empty', { argument: 'name' });
        [before.name, after.name, next.name] = [owner.name, input.name.trim(), input.name.trim()];
      }
      if (input.email != null && (input.email || null) !== owner.email) {
        [before.email, after.email, next.email] = [owner.email, input.email || null, input.email || null];
      }
      let affectedTokenIds: string[] = [];
      if (input.allowedScopes) {
        const wanted = await this.scopes.resolve(scope, input.allowedScopes, 'allowedScopes');
        const current = await this.scopes.ceilingOf(scope, id);
        const wantedIds = new Set(wanted.map((s) => s.id));
        const added = wanted.filter((s) => !current.has(s.id));
        const removedIds = [...current].filter((s) => !wantedIds.has(s));
        // Taking a scope away is granting less; adding one is a grant and needs the scope held.
        await this.scopes.assertMayGrant(scope, p, added);
        if (added.length > 0 || removedIds.length > 0) {
          const [catalogue] = await this.scopes.byOwnerIds(p.tenantId, [id]);
          before.allowedScopes = catalogue!.map((s) => s.name);
          after.allowedScopes = wanted.map((s) => s.name).sort();
          await scope.insert(
            OwnerScopeRow,
            added.map((s) => ({ ownerId: id, scopeId: s.id })),
          );
          if (removedIds.length > 0) {
            await tx
              .createQueryBuilder()
              .delete()
              .from(OwnerScopeRow)
              .where('tenant_id = :tenantId AND owner_id = :id AND scope_id IN (:...removedIds)', {
                tenantId: p.tenantId,
                id,
                removedIds,
              })
              .execute();
            affectedTokenIds = await this.tokens.dropScopes(tx, p.tenantId, id, removedIds);
            if (affectedTokenIds.length > 0) after.tokensReduced = affectedTokenIds;
          }
        }
      }
      if (Object.keys(after).length === 0) return { owner, affectedTokenIds };
      try {
        await scope.update(Owner, id, { name: next.name, email: next.email, updatedAt: new Date() });
      } catch (e) {
        if (isUniqueViolation(e))
          throw conflict(`an owner named ${JSON.stringify(next.name)} already exists`, { name: next.name });
        throw e;
      }
      await this.audit.append(tx, p.tenantId, {
        action: 'OWNER_UPDATED',
        actorId: p.ownerId,
        targetType: 'OWNER',
        targetId: id,
        data: { before, after },
      });
      return { owner: next, affectedTokenIds };
    });
    await this.changes.tokensChanged(change.affectedTokenIds);
    return change.owner;
  }

  async get(p: Principal, id: string): Promise<Owner> {
    requireId(id);
    if (id !== p.ownerId) requirePermission(p, Permission.OWNER_READ);
    return new TenantScope(this.ds.manager, p.tenantId).get(Owner, id, 'owner');
  }

  async list(
    p: Principal,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<Owner>> {
    const limit = pageSize(first);
    const qb = new TenantScope(this.ds.manager, p.tenantId).select(Owner, 'o');
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('o.id > :after', { after: requireId(decodeCursor(after), 'after') });
    const rows = await qb
      .orderBy('o.id', 'ASC')
      .limit(limit + 1)
      .getMany();
    return connection(rows, limit, totalCount, (o) => o.id);
  }

  async byIds(tenantId: string, ids: readonly string[]): Promise<Owner[]> {
    return new TenantScope(this.ds.manager, tenantId).findByIds(Owner, ids);
  }
}
