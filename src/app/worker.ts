// The worker process: BullMQ workers for everything that happens in the background.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Worker } from 'bullmq';
import type { ActionResult } from '../lifecycle/lifecycle.jobs';
import { Batcher } from '../lifecycle/batcher';
import { Clock } from '../platform/clock';
import { fairly, TenantSlots } from '../outbound/tenant-slots';
import {
  bullConnection,
  LIFECYCLE_QUEUES,
  type LifecycleJob,
  type LifecycleQueue,
  QueueName,
  type RotationStepJob,
  type WebhookDelivery,
} from '../platform/queues';
import type { Container } from './container';

export interface Workers {
  stop(): Promise<void>;
}

const PLANNER_SCHEDULER = 'planner-tick';
/** Due jobs wait this long for company: one transaction for many actions, a little later each. */
const BATCH_WAIT_MS = 50;

export async function startWorkers(c: Container): Promise<Workers> {
  const { config, services, log, metrics } = c;
  const { lifecycle } = config;
  const connection = bullConnection(config.redisUrl, 'workers', log);
  // Everything periodic, in one list: the tokens' schedule (the planner), the credentials' (grace
  // ends, vendor expiries), their rotations (deadlines, lost steps, scheduled starts), and the
  // webhook deliveries lost with Redis.
  const clock = new Clock(
    [
      { name: 'tokens', run: () => services.planner.tick() },
      { name: 'credentials', run: () => services.credentialJobs.sweep() },
      { name: 'rotations', run: () => services.rotations.sweep() },
      {
        name: 'webhooks',
        everyMs: Math.min(30_000, config.webhooks.sweepAfterMs / 2),
        run: () => services.webhookDispatch.sweep(),
      },
    ],
    log,
  );
  const common = { connection, prefix: config.redisPrefix };

  const lifecycleWorker = (kind: LifecycleQueue) => {
    const batcher = new Batcher<LifecycleJob, ActionResult | Error>(
      (jobs) => services.lifecycle.run(kind, jobs),
      lifecycle.batch,
      BATCH_WAIT_MS,
    );
    return new Worker<LifecycleJob, ActionResult>(
      kind,
      async (job: Job<LifecycleJob>) => {
        // A delayed job can be promoted a moment before its instant by this process's clock.
        const early = job.data.due - Date.now();
        if (early > 0 && early < 2_000) await sleep(early);
        const result = await batcher.submit(job.data);
        if (result instanceof Error) throw result;
        metrics.lifecycleActions.inc({ kind, result: result.done ? 'done' : 'skipped' });
        return result;
      },
      // A worker killed mid-job leaves its jobs locked; they come back after the lock lapses and
      // run again, which is safe: every action re-checks its row. So a stall never fails a job.
      {
        ...common,
        concurrency: lifecycle.concurrency,
        lockDuration: 15_000,
        stalledInterval: 5_000,
        maxStalledCount: 1_000,
      },
    );
  };

  // Outbound calls: one tenant's stuck endpoints hold at most its share of each queue's slots.
  const slots = () => new TenantSlots(config.outbound.tenantSlots);
  const workers: Worker[] = [
    new Worker<WebhookDelivery>(
      QueueName.WEBHOOKS,
      fairly(slots(), async (job: Job<WebhookDelivery>) => {
        try {
          const outcome = await services.deliveries.attempt(job.data.deliveryId, job.data.tenantId);
          metrics.webhookDeliveries.inc({ outcome: outcome.status });
          return outcome;
        } catch (err) {
          metrics.webhookDeliveries.inc({ outcome: 'failed' });
          throw err;
        }
      }),
      { ...common, concurrency: 16 },
    ),
    // A tick that died with its process is simply missed: the next one does the same work.
    new Worker(QueueName.PLANNER, () => clock.tick(), {
      ...common,
      concurrency: 1,
      lockDuration: 10_000,
      stalledInterval: 5_000,
    }),
    ...LIFECYCLE_QUEUES.map(lifecycleWorker),
    // One step of a credential rotation. The last attempt's failure fails the rotation (CURRENT
    // untouched); a worker killed mid-step leaves the job to come back, and the step runs again.
    new Worker<RotationStepJob>(
      QueueName.CREDENTIAL_ROTATION,
      fairly(slots(), async (job: Job<RotationStepJob>) => {
        try {
          return await services.rotations.runStep(job.data);
        } catch (err) {
          if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await services.rotations.fail(job.data, err);
          throw err;
        }
      }),
      { ...common, concurrency: 8, lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 1_000 },
    ),
  ];
  for (const w of workers) {
    w.on('error', (err) => log.warn({ err, queue: w.name }, 'worker error'));
    w.on('failed', (job, err) => log.debug({ queue: w.name, jobId: job?.id, err: err.message }, 'job attempt failed'));
  }

  // The planner's tick is a BullMQ job scheduler: one tick at a time cluster-wide. Every worker
  // process keeps it in place, so it comes back by itself after Redis loses it.
  const planner = services.queues.get(QueueName.PLANNER);
  const ensureScheduler = async () => {
    try {
      if (!(await planner.getJobScheduler(PLANNER_SCHEDULER))) {
        await planner.upsertJobScheduler(PLANNER_SCHEDULER, { every: lifecycle.tickMs }, { name: 'tick', data: {} });
        log.info({ everyMs: lifecycle.tickMs }, 'planner tick scheduled');
      }
    } catch (err) {
      log.warn({ err }, 'could not check the planner schedule');
    }
  };
  await ensureScheduler();
  const keeper = setInterval(() => void ensureScheduler(), lifecycle.tickMs);
  keeper.unref();

  // Data keys still wrapped by a key other than the ring's active one move under it, and so does
  // every secret sealed directly under the ring, in the background: reads go on meanwhile, since
  // the old key stays in the ring.
  void services.dataKeys
    .rewrap()
    .catch((err) => log.error({ err }, 'could not re-wrap data keys; the next worker start tries again'));
  void services.resealer
    .reseal()
    .catch((err) =>
      log.error({ err }, 'could not re-seal secrets under the active key; the next worker start tries again'),
    );

  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log.info({ queues: workers.map((w) => w.name) }, 'workers started');
  return {
    async stop() {
      clearInterval(keeper);
      await Promise.all(workers.map((w) => w.close()));
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
