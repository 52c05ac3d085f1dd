// The worker process: BullMQ workers for everything that happens in the background.
import { type Job, Worker } from 'bullmq';
import { bullConnection, QueueName, type WebhookDelivery } from '../platform/queues';
import type { Container } from './container';

export interface Workers {
  stop(): Promise<void>;
}

export async function startWorkers(c: Container): Promise<Workers> {
  const { config, services, log } = c;
  const connection = bullConnection(config.redisUrl, 'workers');
  const workers = [
    new Worker<WebhookDelivery>(
      QueueName.WEBHOOKS,
      (job: Job<WebhookDelivery>) => services.webhooks.attempt(job.data.deliveryId, job.data.tenantId, job.attemptsMade),
      { connection, prefix: config.redisPrefix, concurrency: 16 },
    ),
  ];
  for (const w of workers) {
    w.on('error', (err) => log.warn({ err, queue: w.name }, 'worker error'));
    w.on('failed', (job, err) => log.debug({ queue: w.name, jobId: job?.id, err: err.message }, 'job attempt failed'));
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log.info({ queues: workers.map((w) => w.name) }, 'workers started');
  return {
    async stop() {
      await Promise.all(workers.map((w) => w.close()));
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
