// Cache invalidation after commits. Two paths reach every replica:
// - at once: the writer deletes the token's Redis entries and announces the change on pub/sub
//   (CacheInvalidator, called by services after their transaction commits);
// - within a second, whatever happened to Redis or to the writer: every replica polls Postgres for
//   tokens changed by transactions it may not have seen and applies what is new (ChangePoller).
import type { Logger } from 'pino';
import type { DataSource, QueryRunner } from 'typeorm';
import type { ChangeNotifier } from '../platform/change-notifier';
import { throttled } from '../platform/logger';
import type { SharedRecordCache } from './record-cache';
import type { InvalidationBus } from './invalidation-bus';

interface ChangedToken {
  id: string;
  version: number;
  /** Hashes of secrets that may hold a live cache entry. */
  hashes: string[];
}

// Secrets that may hold a live entry: valid ones and those that ended within the cache lifetime.
const CHANGED_SQL = `
  SELECT t.id, t.version::float8 AS version,
         ARRAY(SELECT s.hash FROM token_secrets s
                WHERE s.tenant_id = t.tenant_id AND s.token_id = t.id
                  AND (s.state IN ('CURRENT', 'PREVIOUS') OR s.ended_at > now() - interval '1 hour')) AS hashes
    FROM tokens t WHERE t.id = ANY($1)`;
const BATCH = 500;

export class CacheInvalidator implements ChangeNotifier {
  constructor(
    private readonly ds: DataSource,
    private readonly shared: SharedRecordCache,
    private readonly bus: InvalidationBus,
    private readonly log: Logger,
  ) {}

  /** Never fails the caller: the change is committed, and the poller covers a miss. */
  async tokensChanged(tokenIds: readonly string[]): Promise<void> {
    const ids = [...new Set(tokenIds)];
    if (ids.length === 0) return;
    let failure: unknown = null;
    try {
      for (let i = 0; i < ids.length; i += BATCH) {
        await this.clearShared(await this.load(this.ds, ids.slice(i, i + BATCH)));
      }
    } catch (err) {
      failure = err;
    }
    try {
      // Tells this replica in any case; the others through Redis.
      await this.bus.publish({ kind: 'tokens', ids });
    } catch (err) {
      failure ??= err;
    }
    if (failure)
      this.log.error(
        { err: failure, tokens: ids.length },
        'could not announce a token change; replicas will see it at their next poll',
      );
  }

  async permissionsChanged(): Promise<void> {
    try {
      await this.bus.publish({ kind: 'permissions' });
    } catch (err) {
      this.log.error({ err }, 'could not announce a permissions change; caches expire by TTL');
    }
  }

  load(db: Pick<DataSource, 'query'>, ids: readonly string[]): Promise<ChangedToken[]> {
    return db.query(CHANGED_SQL, [ids]);
  }

  async clearShared(rows: readonly ChangedToken[]): Promise<void> {
    await Promise.all(rows.map((r) => this.shared.invalidate(r.id, r.version, r.hashes)));
  }
}

/**
 * Polls Postgres for tokens whose version moved, and invalidates this replica's cache and the
 * shared one for those it has not seen yet. Each poll reads the rows written by transactions at or
 * after the previous poll's snapshot xmin: every transaction below it had finished, so nothing
 * committed since can be missed, and nothing else is read twice for long. While polls succeed,
 * the in-process cache may keep entries long; when they stop, `trusted()` turns false and the
 * cache is bypassed.
 */
export class ChangePoller {
  private xmin: string | null = null;
  private applied = new Map<string, number>();
  /** Changes applied here whose Redis entries could not be cleared yet (Redis down): retried every poll. */
  private readonly unclearedShared = new Map<string, ChangedToken>();
  private lastSuccess = 0;
  private readonly warnNow = throttled();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  // A connection of its own: under load the pool queue could delay a poll past staleAfterMs.
  private runner: QueryRunner | null = null;

  constructor(
    private readonly ds: DataSource,
    private readonly invalidator: CacheInvalidator,
    private readonly bus: InvalidationBus,
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly staleAfterMs: number,
  ) {}

  trusted(now = Date.now()): boolean {
    return now - this.lastSuccess < this.staleAfterMs;
  }

  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.runner?.release();
    this.runner = null;
  }

  poll(): Promise<void> {
    this.running ??= this.once().finally(() => (this.running = null));
    return this.running;
  }

  private async once(): Promise<void> {
    try {
      if (!this.runner || this.runner.isReleased) {
        this.runner = this.ds.createQueryRunner();
        await this.runner.connect();
      }
      // The snapshot is taken first: rows read after it include everything it did not see finished.
      const [{ xmin }] = await this.runner.query(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`);
      const window: Array<{ id: string; version: number }> =
        this.xmin === null
          ? []
          : await this.runner.query(`SELECT id, version::float8 AS version FROM tokens WHERE changed_xid >= $1::xid8`, [
              this.xmin,
            ]);
      const fresh = window.filter((r) => (this.applied.get(r.id) ?? 0) < r.version).map((r) => r.id);
      if (fresh.length > 0) {
        for (const row of await this.invalidator.load(this.runner, fresh)) this.unclearedShared.set(row.id, row);
      }
      // Redis first, so that a fill after the local drop cannot read an entry the change made stale;
      // but a Redis that is down must not keep this replica from applying the change itself.
      await this.clearShared();
      if (fresh.length > 0) this.bus.deliverLocally({ kind: 'tokens', ids: fresh });
      // Only rows still in the window can come back; the rest need no memory.
      this.applied = new Map(window.map((r) => [r.id, r.version]));
      this.xmin = xmin;
      this.lastSuccess = Date.now();
    } catch (err) {
      this.log.warn(
        { err },
        'change poll failed (Postgres); the in-process cache is bypassed until polls succeed again',
      );
      await this.runner?.release().catch(() => undefined);
      this.runner = null;
    }
  }

  private async clearShared(): Promise<void> {
    if (this.unclearedShared.size === 0) return;
    const rows = [...this.unclearedShared.values()];
    try {
      await this.invalidator.clearShared(rows);
      for (const r of rows) if (this.unclearedShared.get(r.id) === r) this.unclearedShared.delete(r.id);
    } catch (err) {
      if (this.warnNow()) {
        this.log.warn(
          { err, tokens: rows.length },
          'could not clear changed tokens from the Redis cache; applied here, retried every poll',
        );
      }
    }
  }
}
