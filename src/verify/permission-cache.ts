// Callers' permissions, cached per owner: what authentication adds to a verified credential. A
// role change drops them all (the invalidation bus), and a load begun before a change does not
// fill the cache after it.
import type { Logger } from 'pino';
import type { Permission } from '../iam/permissions';
import { joinOrStart, type MaybePromise } from '../platform/maybe-promise';

export class PermissionCache {
  private readonly permissions = new Map<string, { value: Set<Permission>; until: number }>();
  /** Loads under way, one per owner, so that a busy gateway's requests share one. */
  private readonly loads = new Map<string, Promise<Set<Permission>>>();
  private epoch = 0;

  constructor(
    private readonly roles: { permissionsOf(tenantId: string, ownerId: string): Promise<Set<Permission>> },
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  /** Forgets every cached permission, and every load under way. */
  invalidate(): void {
    this.epoch++;
    this.permissions.clear();
    this.loads.clear(); // a load begun before the change must not serve requests after it
  }

  /**
   * The owner's permissions from memory while they are fresh. Once half their time is up, the
   * first request to see them starts a reload in the background: a gateway calling without pause
   * never waits for one.
   */
  cached(tenantId: string, ownerId: string): MaybePromise<Set<Permission>> {
    const now = Date.now();
    const hit = this.permissions.get(ownerId);
    if (!hit || hit.until <= now) return this.load(tenantId, ownerId);
    if (hit.until - now < this.ttlMs / 2 && !this.loads.has(ownerId)) {
      this.load(tenantId, ownerId).catch((err) =>
        this.log.warn({ err, ownerId }, 'could not reload permissions; the cached ones expire as usual'),
      );
    }
    return hit.value;
  }

  /** Reads the owner's permissions, joining a read already under way. */
  load(tenantId: string, ownerId: string): Promise<Set<Permission>> {
    return joinOrStart(this.loads, ownerId, () => {
      const now = Date.now();
      const epoch = this.epoch;
      return this.roles.permissionsOf(tenantId, ownerId).then((value) => {
        if (epoch === this.epoch && this.ttlMs > 0) {
          this.permissions.set(ownerId, { value, until: now + this.ttlMs });
        }
        return value;
      });
    });
  }
}
