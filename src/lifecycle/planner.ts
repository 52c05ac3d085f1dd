// The planner: one tick at a time cluster-wide, it reads what falls due within the horizon from
// the schedule columns (partial indexes hold only what can still fall due) and enqueues a delayed
// job per action. Job ids are deterministic (kind, ids and the due instant), so planning the same
// work twice is a no-op, and a re-planned action gets a new id while its stale job finds nothing
// to do. A sorted set remembers what this Redis already holds: when Redis is wiped, the set goes
// with the jobs and the next tick plans everything again.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Tx } from '../platform/db';
import { type LifecycleJob, type LifecycleQueue, type Queues, LIFECYCLE_QUEUES } from '../platform/queues';

export interface PlannerOptions {
  horizonMs: number;
  /** Most actions of one kind enqueued per tick (the earliest first). */
  maxPerTick: number;
  /** Rows locked and enqueued per transaction. */
  batch: number;
  lockTtlMs: number;
}

export interface TickReport {
  ran: boolean;
  /** Actions enqueued, by kind. */
  enqueued: Record<LifecycleQueue, number>;
  /** Actions due within the horizon, by kind (enqueued now or before). */
  due: Record<LifecycleQueue, number>;
  /** Time spent in the queries that find due work. */
  queryMs: number;
  tookMs: number;
}

interface Due {
  tokenId: string;
  tenantId: string;
  secretId?: string;
  generation?: number;
  due: number;
}

/** Where each kind's due work lives: the table, the schedule column and what makes a row live. */
export const DUE_WORK: Record<LifecycleQueue, { table: string; column: string; live: string; fields: string }> = {
  rotate: {
    table: 'tokens',
    column: 'next_rotation_at',
    live: `status = 'ACTIVE'`,
    fields: 'id AS token_id, tenant_id, generation',
  },
  expire: {
    table: 'tokens',
    column: 'expires_at',
    live: `status IN ('ACTIVE', 'SUSPENDED')`,
    fields: 'id AS token_id, tenant_id',
  },
  notify: {
    table: 'tokens',
    column: 'next_notify_at',
    live: `status IN ('ACTIVE', 'SUSPENDED')`,
    fields: 'id AS token_id, tenant_id',
  },
  retire: {
    table: 'token_secrets',
    column: 'grace_ends_at',
    live: `state = 'PREVIOUS'`,
    fields: 'id AS secret_id, token_id, tenant_id',
  },
};

/** Rows of a kind due by `$1` (the partial indexes match these conditions). */
export const dueCondition = (kind: LifecycleQueue) =>
  `${DUE_WORK[kind].live} AND ${DUE_WORK[kind].column} IS NOT NULL AND ${DUE_WORK[kind].column} <= $1`;

/** The earliest `$2` due by `$1`. */
const dueSql = (kind: LifecycleQueue) => {
  const { table, column, fields } = DUE_WORK[kind];
  return `SELECT ${fields}, ${column} AS due FROM ${table} WHERE ${dueCondition(kind)}`;
};
export const DUE_SQL = Object.fromEntries(
  LIFECYCLE_QUEUES.map((k) => [k, `${dueSql(k)} ORDER BY ${DUE_WORK[k].column} LIMIT $2`]),
) as Record<LifecycleQueue, string>;

/** The same rows (`$2`: their ids), locked, skipping rows another transaction holds: fresh values. */
const LOCK_SQL = Object.fromEntries(
  LIFECYCLE_QUEUES.map((k) => [k, `${dueSql(k)} AND id = ANY($2) FOR UPDATE SKIP LOCKED`]),
) as Record<LifecycleQueue, string>;

export function jobIdOf(kind: LifecycleQueue, d: Due): string {
  switch (kind) {
    case 'rotate':
      return `rotate-${d.tokenId}-${d.generation}-${d.due}`;
    case 'retire':
      return `retire-${d.secretId}-${d.due}`;
    default:
      return `${kind}-${d.tokenId}-${d.due}`;
  }
}

const zero = (): Record<LifecycleQueue, number> => ({ rotate: 0, expire: 0, notify: 0, retire: 0 });

export class Planner {
  private readonly plannedKey: string;
  private readonly lockKey: string;
  readonly lastTickKey: string;
  private readonly me = randomUUID();

  constructor(
    private readonly ds: DataSource,
    private readonly redis: Redis,
    private readonly queues: Queues,
    private readonly opts: PlannerOptions,
    private readonly log: Logger,
  ) {
    this.plannedKey = `${queues.prefix}:planner:planned`;
    this.lockKey = `${queues.prefix}:planner:lock`;
    this.lastTickKey = `${queues.prefix}:planner:last-tick`;
  }

  /** One pass. Ticks never overlap, even when a slow one outlives the scheduler's interval. */
  async tick(): Promise<TickReport> {
    const started = Date.now();
    const report: TickReport = { ran: false, enqueued: zero(), due: zero(), queryMs: 0, tookMs: 0 };
    if ((await this.redis.set(this.lockKey, this.me, 'PX', this.opts.lockTtlMs, 'NX')) !== 'OK') return report;
    try {
      report.ran = true;
      const end = new Date(started + this.opts.horizonMs);
      for (const kind of LIFECYCLE_QUEUES) {
        const q0 = performance.now();
        const due = await this.dueWithin(kind, end);
        report.queryMs += performance.now() - q0;
        report.due[kind] = due.length;
        report.enqueued[kind] = await this.enqueueNew(kind, due, end);
      }
      // What is long past its due time is no longer remembered (its job ran or was superseded).
      await this.redis.zremrangebyscore(this.plannedKey, '-inf', started - 3_600_000);
      await this.redis.set(this.lastTickKey, String(Date.now()));
      const total = Object.values(report.enqueued).reduce((a, b) => a + b, 0);
      if (total > 0)
        this.log.info(
          { enqueued: report.enqueued, due: report.due, queryMs: Math.round(report.queryMs) },
          'planner enqueued due actions',
        );
    } finally {
      await this.redis.eval(
        `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`,
        1,
        this.lockKey,
        this.me,
      );
    }
    report.tookMs = Date.now() - started;
    return report;
  }

  private async dueWithin(kind: LifecycleQueue, end: Date): Promise<Due[]> {
    const rows: Array<Record<string, never>> = await this.ds.query(DUE_SQL[kind], [end, this.opts.maxPerTick]);
    return rows.map(toDue);
  }

  /** Enqueues what this Redis does not hold yet, locking the rows while it does. */
  private async enqueueNew(kind: LifecycleQueue, due: Due[], end: Date): Promise<number> {
    let enqueued = 0;
    for (let i = 0; i < due.length; i += this.opts.batch) {
      await this.holdLock();
      const chunk = due.slice(i, i + this.opts.batch);
      const ids = chunk.map((d) => jobIdOf(kind, d));
      const known = await this.redis.zmscore(this.plannedKey, ...ids);
      const fresh = chunk.filter((_, j) => known[j] === null);
      if (fresh.length === 0) continue;
      enqueued += await this.ds.transaction(async (tx) => {
        const locked = await this.lock(tx, kind, fresh, end);
        if (locked.length === 0) return 0;
        const now = Date.now();
        await this.queues.addBulk(
          kind,
          locked.map((d) => {
            const data: LifecycleJob = { tenantId: d.tenantId, tokenId: d.tokenId, due: d.due };
            if (d.secretId) data.secretId = d.secretId;
            if (d.generation !== undefined) data.generation = d.generation;
            return { jobId: jobIdOf(kind, d), data, opts: { delay: Math.max(0, d.due - now) } };
          }),
        );
        await this.redis.zadd(this.plannedKey, ...locked.flatMap((d) => [d.due, jobIdOf(kind, d)]));
        return locked.length;
      });
    }
    return enqueued;
  }

  /** A long tick keeps its lock; a tick whose process died loses it within lockTtlMs. */
  private async holdLock(): Promise<void> {
    await this.redis.eval(
      `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`,
      1,
      this.lockKey,
      this.me,
      this.opts.lockTtlMs,
    );
  }

  private async lock(tx: Tx, kind: LifecycleQueue, due: Due[], end: Date): Promise<Due[]> {
    const rows: Array<Record<string, never>> = await tx.query(LOCK_SQL[kind], [
      end,
      due.map((d) => (kind === 'retire' ? d.secretId : d.tokenId)),
    ]);
    return rows.map(toDue);
  }
}

const toDue = (r: Record<string, never>): Due => ({
  tokenId: r.token_id,
  tenantId: r.tenant_id,
  secretId: r.secret_id,
  generation: r.generation,
  due: (r.due as Date).getTime(),
});
