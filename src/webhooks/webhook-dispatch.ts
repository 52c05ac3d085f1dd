// Deliveries of audit events to webhook endpoints: planned as the relay publishes, listed, sent
// again by hand, and put back in the queue by the sweep when their job was lost with Redis. The
// attempts themselves are webhook.jobs.ts.
import type { DataSource } from 'typeorm';
import type { AuditEvent } from '../audit/audit-event.entity';
import type { Principal } from '../iam/principal';
import { badInput } from '../platform/errors';
import { decodeCursor, requireId, uuidv7 } from '../platform/ids';
import { type Connection, connection, pageSize } from '../platform/pagination';
import { type Queues, QueueName } from '../platform/queues';
import { TenantScope } from '../platform/tenant-scope';
import { Webhook, WebhookDelivery, WebhookDeliveryStatus } from './webhook.entity';

export interface WebhookSettings {
  attempts: number;
  backoffMs: number;
  /** A pending delivery this late for its attempt is put back in the queue (its job was lost with Redis). */
  sweepAfterMs: number;
}

export class WebhookDispatch {
  constructor(
    private readonly ds: DataSource,
    private readonly queues: Queues,
    private readonly settings: WebhookSettings,
  ) {}

  async deliveries(
    p: Principal,
    webhookId: string,
    status: WebhookDeliveryStatus | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<WebhookDelivery>> {
    requireId(webhookId, 'webhookId');
    const limit = pageSize(first);
    const scope = new TenantScope(this.ds.manager, p.tenantId);
    await scope.get(Webhook, webhookId, 'webhook');
    const qb = scope.select(WebhookDelivery, 'd').andWhere('d.webhookId = :webhookId', { webhookId });
    if (status) qb.andWhere('d.status = :status', { status });
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('d.id > :after', { after: requireId(decodeCursor(after), 'after') });
    const rows = await qb
      .orderBy('d.id', 'ASC')
      .limit(limit + 1)
      .getMany();
    return connection(rows, limit, totalCount, (d) => d.id);
  }

  /** Sends a dead-lettered delivery again, from its first attempt. */
  async retry(p: Principal, deliveryId: string): Promise<WebhookDelivery> {
    requireId(deliveryId, 'deliveryId');
    const scope = new TenantScope(this.ds.manager, p.tenantId);
    const d = await scope.get(WebhookDelivery, deliveryId, 'webhook delivery');
    if (d.status !== WebhookDeliveryStatus.DEAD)
      throw badInput(`delivery ${JSON.stringify(deliveryId)} is ${d.status.toLowerCase()}, not dead`);
    const jobId = `${d.id}r${Date.now()}`;
    const nextAttemptAt = new Date();
    await scope.update(WebhookDelivery, deliveryId, {
      status: WebhookDeliveryStatus.PENDING,
      attempts: 0,
      jobId,
      nextAttemptAt,
    });
    await this.enqueue([{ id: d.id, tenantId: d.tenantId, jobId }]);
    return { ...d, status: WebhookDeliveryStatus.PENDING, attempts: 0, jobId, nextAttemptAt };
  }

  /**
   * Plans deliveries of committed events to the tenant's active endpoints (the relay calls this
   * as it publishes). Idempotent: an event is delivered to an endpoint at most once.
   */
  async plan(tenantId: string, events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const hooks = await new TenantScope(this.ds.manager, tenantId)
      .select(Webhook, 'w')
      .andWhere(`w.status = 'ACTIVE'`)
      .getMany();
    if (hooks.length === 0) return;
    const rows = events.flatMap((e) =>
      hooks
        // A test event goes to the endpoint it tests, and to no other.
        .filter((h) =>
          e.action === 'WEBHOOK_TESTED' ? h.id === e.targetId : h.events.includes('*') || h.events.includes(e.action),
        )
        .map((h) => ({ id: uuidv7(), webhookId: h.id, eventId: e.id, eventSeq: e.seq, eventAction: e.action })),
    );
    if (rows.length === 0) return;
    const inserted: Array<{ id: string }> = await this.ds.query(
      `INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_seq, event_action, status, created_at, next_attempt_at, job_id)
       SELECT u.id, $1, u.webhook_id, u.event_id, u.seq, u.action, 'PENDING', now(), now(), u.id::text
         FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::text[]) AS u(id, webhook_id, event_id, seq, action)
       ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING id`,
      [
        tenantId,
        rows.map((r) => r.id),
        rows.map((r) => r.webhookId),
        rows.map((r) => r.eventId),
        rows.map((r) => r.eventSeq),
        rows.map((r) => r.eventAction),
      ],
    );
    await this.enqueue(inserted.map((r) => ({ id: r.id, tenantId, jobId: r.id })));
  }

  /**
   * Puts back in the queue pending deliveries whose attempt is overdue: a relay that died between
   * insert and enqueue, or jobs in backoff lost with Redis (a flush, a failover). Under the job id
   * Postgres recorded, so a job that still exists is left alone.
   */
  async sweep(): Promise<number> {
    const stale: Array<{ id: string; tenant_id: string; job_id: string | null }> = await this.ds.query(
      `SELECT id, tenant_id, job_id FROM webhook_deliveries
        WHERE status = 'PENDING' AND next_attempt_at < now() - make_interval(secs => $1)
        ORDER BY next_attempt_at LIMIT 1000`,
      [this.settings.sweepAfterMs / 1000],
    );
    // A job that used its attempts while the row stayed PENDING would block its id for good.
    const queue = this.queues.get(QueueName.WEBHOOKS);
    for (const s of stale) {
      const job = await queue.getJob(s.job_id ?? s.id);
      if (job && (await job.isFailed())) await job.remove();
    }
    await this.enqueue(stale.map((s) => ({ id: s.id, tenantId: s.tenant_id, jobId: s.job_id ?? s.id })));
    return stale.length;
  }

  private async enqueue(deliveries: Array<{ id: string; tenantId: string; jobId: string }>): Promise<void> {
    const opts = {
      attempts: this.settings.attempts,
      backoff: { type: 'exponential', delay: this.settings.backoffMs },
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 5_000 },
    };
    await this.queues.addBulk(
      QueueName.WEBHOOKS,
      deliveries.map((d) => ({ jobId: d.jobId, data: { deliveryId: d.id, tenantId: d.tenantId }, opts })),
    );
  }
}
