// BullMQ queues: their names and payloads in one place. Payloads carry ids, never secrets; job ids
// are deterministic and contain no ':'.
import { type JobsOptions, Queue, type QueueOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createRedis } from './redis';

export const QueueName = {
  WEBHOOKS: 'webhooks',
  PLANNER: 'planner',
  ROTATE: 'rotate',
  EXPIRE: 'expire',
  NOTIFY: 'notify',
  RETIRE: 'retire',
  CREDENTIAL_ROTATION: 'credential-rotation',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export interface WebhookDelivery {
  deliveryId: string;
  tenantId: string;
}

/** A scheduled action: what was planned (ids and the due instant), never secret material. */
export interface LifecycleJob {
  tenantId: string;
  tokenId: string;
  /** retire: the PREVIOUS secret. */
  secretId?: string;
  /** rotate: the generation the token had when planned. */
  generation?: number;
  /** Epoch milliseconds: the schedule column's value when planned. */
  due: number;
}

/** One step of a credential rotation: ids and the step's name, never a value. */
export interface RotationStepJob {
  tenantId: string;
  rotationId: string;
  step: 'create' | 'set' | 'test' | 'finish';
}

export interface QueuePayloads {
  webhooks: WebhookDelivery;
  planner: Record<string, never>;
  rotate: LifecycleJob;
  expire: LifecycleJob;
  notify: LifecycleJob;
  retire: LifecycleJob;
  'credential-rotation': RotationStepJob;
}

export type LifecycleQueue =
  typeof QueueName.ROTATE | typeof QueueName.EXPIRE | typeof QueueName.NOTIFY | typeof QueueName.RETIRE;
export const LIFECYCLE_QUEUES: readonly LifecycleQueue[] = [
  QueueName.ROTATE,
  QueueName.EXPIRE,
  QueueName.NOTIFY,
  QueueName.RETIRE,
];

const lifecycleJob: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { count: 10_000, age: 3_600 },
  removeOnFail: { count: 10_000, age: 7 * 86_400 },
};

/** Defaults per queue; webhook deliveries set their own (their schedule comes from config). */
const JOB_OPTIONS: Partial<Record<QueueName, JobsOptions>> = {
  planner: { removeOnComplete: 100, removeOnFail: 100 },
  rotate: lifecycleJob,
  expire: lifecycleJob,
  notify: lifecycleJob,
  retire: lifecycleJob,
};

/** A connection as BullMQ needs it: blocking commands must wait, not give up. */
export function bullConnection(url: string, name: string, log: Logger): Redis {
  return createRedis(url, 'worker', name, log);
}

export class Queues {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly connection: Redis,
    readonly prefix: string,
  ) {}

  get<N extends QueueName>(name: N): Queue<QueuePayloads[N]> {
    let q = this.queues.get(name);
    if (!q) {
      const opts: QueueOptions = {
        connection: this.connection,
        prefix: this.prefix,
        defaultJobOptions: JOB_OPTIONS[name],
      };
      q = new Queue(name, opts);
      this.queues.set(name, q);
    }
    return q as unknown as Queue<QueuePayloads[N]>;
  }

  /** Adds jobs in one round trip; a job id already in the queue is left as it is. */
  async addBulk<N extends QueueName>(
    name: N,
    jobs: Array<{ jobId: string; data: QueuePayloads[N]; opts?: JobsOptions }>,
  ): Promise<void> {
    if (jobs.length === 0) return;
    await (this.get(name) as Queue).addBulk(
      jobs.map((j) => ({ name, data: j.data, opts: { jobId: j.jobId, ...j.opts } })),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
