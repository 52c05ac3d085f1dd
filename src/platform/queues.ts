// BullMQ queues: their names and payloads in one place. Payloads carry ids, never secrets; job ids
// are deterministic and contain no ':'.
import { type JobsOptions, Queue, type QueueOptions } from 'bullmq';
import { Redis } from 'ioredis';

export const QueueName = {
  WEBHOOKS: 'webhooks',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export interface WebhookDelivery {
  deliveryId: string;
  tenantId: string;
}

export interface QueuePayloads {
  webhooks: WebhookDelivery;
}

/** A connection as BullMQ needs it: blocking commands must wait, not give up. */
export function bullConnection(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: `latchkey:${name}` });
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
      const opts: QueueOptions = { connection: this.connection, prefix: this.prefix };
      q = new Queue(name, opts);
      this.queues.set(name, q);
    }
    return q as unknown as Queue<QueuePayloads[N]>;
  }

  async add<N extends QueueName>(name: N, jobId: string, data: QueuePayloads[N], opts: JobsOptions = {}): Promise<void> {
    await (this.get(name) as Queue).add(name, data, { jobId, ...opts });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
