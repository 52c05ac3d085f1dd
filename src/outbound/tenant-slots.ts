// Fair shares of a worker's outbound slots: one tenant's jobs hold at most `perTenant` of a worker
// process's slots of a queue at once, so twenty stuck endpoints of one tenant leave the rest to
// everyone else. A job over its tenant's share goes back to the queue for a moment, without
// spending an attempt (BullMQ groups would do this, but they are BullMQ Pro's).
import { DelayedError, type Job } from 'bullmq';

/** How long a job over its tenant's share waits before it asks again (plus up to as much again, at random). */
const WAIT_MS = 250;

export class TenantSlots {
  private readonly held = new Map<string, number>();

  constructor(readonly perTenant: number) {}

  /** Takes one of the tenant's slots; false when it holds its share already. */
  take(tenantId: string): boolean {
    const n = this.held.get(tenantId) ?? 0;
    if (n >= this.perTenant) return false;
    this.held.set(tenantId, n + 1);
    return true;
  }

  give(tenantId: string): void {
    const n = (this.held.get(tenantId) ?? 1) - 1;
    if (n > 0) this.held.set(tenantId, n);
    else this.held.delete(tenantId);
  }
}

/** A BullMQ processor that runs `process` within the job's tenant's share of `slots`. */
export function fairly<D extends { tenantId: string }, R>(
  slots: TenantSlots,
  process: (job: Job<D>) => Promise<R>,
): (job: Job<D>, token?: string) => Promise<R> {
  return async (job, token) => {
    const { tenantId } = job.data;
    if (!slots.take(tenantId)) {
      await job.moveToDelayed(Date.now() + WAIT_MS + Math.floor(Math.random() * WAIT_MS), token);
      throw new DelayedError();
    }
    try {
      return await process(job);
    } finally {
      slots.give(tenantId);
    }
  };
}
