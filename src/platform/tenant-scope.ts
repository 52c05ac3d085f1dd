// The one door to tenant-owned rows: every read and write goes through a TenantScope, which
// adds the tenant condition itself, so no query can forget it. A row of another tenant is
// indistinguishable from a missing one.
import type { EntityManager, EntityTarget, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { notFound } from './errors';
import { isUuid } from './ids';

export class TenantScope {
  constructor(
    readonly tx: EntityManager,
    readonly tenantId: string,
  ) {}

  /**
   * A query builder already restricted to this tenant. Add conditions with andWhere only:
   * where() would replace the tenant condition.
   */
  select<T extends ObjectLiteral>(entity: EntityTarget<T>, alias: string): SelectQueryBuilder<T> {
    return this.tx
      .createQueryBuilder(entity, alias)
      .where(`${alias}.tenantId = :tenantId`, { tenantId: this.tenantId });
  }

  /** One row by id, locked FOR UPDATE when asked; NOT_FOUND when missing or another tenant's. */
  async get<T extends ObjectLiteral>(entity: EntityTarget<T>, id: string, what: string, lock = false): Promise<T> {
    if (!isUuid(id)) throw notFound(what, id);
    const qb = this.select(entity, 'r').andWhere('r.id = :id', { id });
    if (lock) qb.setLock('pessimistic_write');
    const row = await qb.getOne();
    if (!row) throw notFound(what, id);
    return row;
  }

  async findByIds<T extends ObjectLiteral>(entity: EntityTarget<T>, ids: readonly string[]): Promise<T[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    return this.select(entity, 'r').andWhere('r.id IN (:...ids)', { ids: valid }).getMany();
  }

  /** Inserts rows stamped with this tenant. */
  async insert<T extends ObjectLiteral>(entity: EntityTarget<T>, rows: Array<Omit<T, 'tenantId'>>): Promise<void> {
    if (rows.length === 0) return;
    await this.tx
      .createQueryBuilder()
      .insert()
      .into(entity)
      .values(rows.map((r) => ({ ...r, tenantId: this.tenantId }) as unknown as T))
      .execute();
  }

  /** Updates one tenant row by id. */
  async update<T extends ObjectLiteral>(entity: EntityTarget<T>, id: string, values: Partial<T>): Promise<void> {
    await this.tx
      .createQueryBuilder()
      .update(entity)
      .set(values as never)
      .where('tenant_id = :tenantId AND id = :id', { tenantId: this.tenantId, id })
      .execute();
  }
}
