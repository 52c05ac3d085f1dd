// The health of the scheduled lifecycle: queue depths, how late the oldest due action is, and
// jobs that used all their attempts. Read by the operations query and by Prometheus.
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { LIFECYCLE_QUEUES, QueueName, type LifecycleJob, type Queues } from '../platform/queues';
import { DUE_WORK, dueCondition } from './planner';
import { FAILED_JOBS_SHOWN, type FailedJob, type LifecycleOperations, type QueueStats } from './lifecycle.types';

export class LifecycleOps {
  constructor(
    private readonly ds: DataSource,
    private readonly redis: Redis,
    private readonly queues: Queues,
    private readonly lastTickKey: string,
  ) {}

  async queueStats(): Promise<QueueStats[]> {
    return Promise.all(
      [QueueName.PLANNER, ...LIFECYCLE_QUEUES].map(async (name) => {
        const c = await this.queues.get(name).getJobCounts('waiting', 'delayed', 'active', 'failed', 'completed');
        return {
          name,
          waiting: c.waiting ?? 0,
          delayed: c.delayed ?? 0,
          active: c.active ?? 0,
          failed: c.failed ?? 0,
          completed: c.completed ?? 0,
        };
      }),
    );
  }

  /** The oldest action due by now and not yet done, and how many there are; for one tenant or all. */
  async overdue(tenantId: string | null, now = new Date()): Promise<{ oldest: Date | null; count: number }> {
    const params: unknown[] = [now];
    if (tenantId) params.push(tenantId);
    const tenant = tenantId ? ' AND tenant_id = $2' : '';
    const parts = LIFECYCLE_QUEUES.map(
      (k) =>
        `SELECT min(${DUE_WORK[k].column}) AS oldest, count(*) AS n FROM ${DUE_WORK[k].table} WHERE ${dueCondition(k)}${tenant}`,
    );
    const [row] = await this.ds.query(
      `SELECT min(oldest) AS oldest, sum(n)::int AS count FROM (${parts.join(' UNION ALL ')}) d`,
      params,
    );
    return { oldest: row.oldest ?? null, count: row.count ?? 0 };
  }

  async lagSeconds(tenantId: string | null): Promise<number> {
    const now = new Date();
    const { oldest } = await this.overdue(tenantId, now);
    return oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0;
  }

  async failedJobs(tenantId: string): Promise<FailedJob[]> {
    const lists = await Promise.all(LIFECYCLE_QUEUES.map((name) => this.queues.get(name).getFailed(0, 999)));
    return lists
      .flat()
      .filter((j) => (j.data as LifecycleJob).tenantId === tenantId)
      .sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0))
      .slice(0, FAILED_JOBS_SHOWN)
      .map((j) => ({
        queue: j.queueName,
        jobId: j.id!,
        tokenId: (j.data as LifecycleJob).tokenId ?? null,
        attempts: j.attemptsMade,
        reason: j.failedReason ?? '',
        failedAt: j.finishedOn ? new Date(j.finishedOn) : null,
      }));
  }

  async view(tenantId: string): Promise<LifecycleOperations> {
    const now = new Date();
    const [queues, overdue, failedJobs, lastTick] = await Promise.all([
      this.queueStats(),
      this.overdue(tenantId, now),
      this.failedJobs(tenantId),
      this.redis.get(this.lastTickKey),
    ]);
    return {
      queues,
      plannerLag: overdue.oldest ? Math.max(0, Math.floor((now.getTime() - overdue.oldest.getTime()) / 1000)) : 0,
      oldestDueAt: overdue.oldest,
      overdue: overdue.count,
      lastTickAt: lastTick ? new Date(Number(lastTick)) : null,
      failedJobs,
    };
  }
}
