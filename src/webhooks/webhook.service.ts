// Webhook endpoints of a tenant, and the planning of deliveries of audit events to them (by the
// relay, and again by its sweep for jobs lost with Redis). The attempts themselves are
// webhook.jobs.ts.
import type { DataSource } from 'typeorm';
import { AuditEvent } from '../audit/audit-event.entity';
import { isAuditAction } from '../audit/actions';
import type { AuditService } from '../audit/audit.service';
import type { Principal } from '../iam/principal';
import { badInput, conflict } from '../platform/errors';
import { decodeCursor, requireId, uuidv7 } from '../platform/ids';
import { type Connection, connection, pageSize } from '../platform/pagination';
import { type Queues, QueueName } from '../platform/queues';
import type { SecretBox } from '../platform/secret-box';
import { maskUrl, urlDigest } from '../platform/capability-url';
import { assertBelowQuota, QUOTAS } from '../platform/quotas';
import { TenantScope } from '../platform/tenant-scope';
import { checkTargetUrl } from '../outbound/check-target';
import type { HttpOutbound } from '../outbound/http-outbound';
import { newWebhookSecret } from '../outbound/signature';
import { Webhook, WebhookDelivery, WebhookDeliveryStatus, WebhookStatus } from './webhook.entity';
import type { UpdateWebhookInput } from './webhook.types';

/** An endpoint subscribes to at most this many actions; every action there is, or "*", fits. */
const MAX_EVENTS = 100;
const MAX_DESCRIPTION = 1000;
const ROTATION_OVERLAP_MS = 24 * 3_600_000;

export interface WebhookSettings {
  attempts: number;
  backoffMs: number;
  /** A pending delivery this late for its attempt is put back in the queue (its job was lost with Redis). */
  sweepAfterMs: number;
}

export class WebhookService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly box: SecretBox,
    private readonly queues: Queues,
    private readonly outbound: HttpOutbound,
    private readonly settings: WebhookSettings,
  ) {}

  async list(p: Principal): Promise<Webhook[]> {
    return new TenantScope(this.ds.manager, p.tenantId).select(Webhook, 'w').orderBy('w.id', 'ASC').getMany();
  }

  async get(p: Principal, id: string): Promise<Webhook> {
    requireId(id);
    return new TenantScope(this.ds.manager, p.tenantId).get(Webhook, id, 'webhook');
  }

  async create(p: Principal, url: string, events: string[], description: string | null | undefined): Promise<{ webhook: Webhook; signingSecret: string }> {
    const names = this.checkEvents(events);
    checkDescription(description);
    const target = await this.checkUrl(url);
    const id = uuidv7();
    const signingSecret = newWebhookSecret();
    const sealed = this.box.seal(signingSecret, id);
    const now = new Date();
    const webhook: Webhook = {
      id,
      tenantId: p.tenantId,
      url: target,
      events: names,
      description: description ?? null,
      status: WebhookStatus.ACTIVE,
      disabledReason: null,
      secretCiphertext: sealed.ciphertext,
      secretKeyId: sealed.keyId,
      previousSecretCiphertext: null,
      previousSecretKeyId: null,
      previousSecretUntil: null,
      lastSuccessAt: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.ds.transaction(async (tx) => {
      await assertBelowQuota(tx, 'webhook endpoints', QUOTAS.webhooks, 'webhooks WHERE tenant_id = $1', [p.tenantId]);
      await new TenantScope(tx, p.tenantId).insert(Webhook, [webhook]);
      await this.audit.append(tx, p.tenantId, {
        action: 'WEBHOOK_CREATED',
        actorId: p.ownerId,
        targetType: 'WEBHOOK',
        targetId: id,
        data: { url: maskUrl(target), urlDigest: urlDigest(target), events: names, description: webhook.description },
      });
    });
    return { webhook, signingSecret };
  }

  async update(p: Principal, id: string, input: UpdateWebhookInput): Promise<Webhook> {
    requireId(id);
    const events = input.events != null ? this.checkEvents(input.events) : null;
    checkDescription(input.description);
    const url = input.url != null ? await this.checkUrl(input.url) : null;
    return this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const w = await scope.get(Webhook, id, 'webhook', true);
      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      const set = <K extends 'url' | 'events' | 'description' | 'status' | 'disabledReason'>(key: K, value: Webhook[K]) => {
        if (JSON.stringify(w[key]) === JSON.stringify(value)) return;
        before[key] = w[key];
        after[key] = value;
        w[key] = value;
      };
      if (url) set('url', url);
      if (events) set('events', events);
      if (input.description != null) set('description', input.description || null);
      if (input.enabled === true) {
        set('status', WebhookStatus.ACTIVE);
        set('disabledReason', null);
      }
      if (input.enabled === false) {
        set('status', WebhookStatus.DISABLED);
        set('disabledReason', 'disabled by an operator');
      }
      if (Object.keys(after).length === 0) return w;
      // The audit log keeps URLs masked, with their digests: a URL may carry a token.
      for (const side of [before, after]) {
        if (typeof side.url === 'string') Object.assign(side, { url: maskUrl(side.url), urlDigest: urlDigest(side.url) });
      }
      w.updatedAt = new Date();
      await scope.update(Webhook, id, { url: w.url, events: w.events, description: w.description, status: w.status, disabledReason: w.disabledReason, updatedAt: w.updatedAt });
      await this.audit.append(tx, p.tenantId, {
        action: input.enabled === false ? 'WEBHOOK_DISABLED' : 'WEBHOOK_UPDATED',
        actorId: p.ownerId,
        targetType: 'WEBHOOK',
        targetId: id,
        data: { before, after },
      });
      return w;
    });
  }

  async remove(p: Principal, id: string): Promise<boolean> {
    requireId(id);
    await this.ds.transaction(async (tx) => {
      const w = await new TenantScope(tx, p.tenantId).get(Webhook, id, 'webhook', true);
      await tx.delete(Webhook, { tenantId: p.tenantId, id });
      await this.audit.append(tx, p.tenantId, { action: 'WEBHOOK_DELETED', actorId: p.ownerId, targetType: 'WEBHOOK', targetId: id, data: { url: maskUrl(w.url), urlDigest: urlDigest(w.url) } });
    });
    return true;
  }

  /**
   * Sends a WEBHOOK_TESTED event to this endpoint alone, as any event is sent (signed, retried,
   * listed in its deliveries): a receiver can be checked before anything real happens.
   */
  async test(p: Principal, id: string): Promise<AuditEvent> {
    requireId(id);
    return this.ds.transaction(async (tx) => {
      const w = await new TenantScope(tx, p.tenantId).get(Webhook, id, 'webhook');
      if (w.status !== WebhookStatus.ACTIVE) throw conflict(`webhook ${JSON.stringify(id)} is disabled: enable it to test it`, { id });
      const [event] = await this.audit.append(tx, p.tenantId, { action: 'WEBHOOK_TESTED', actorId: p.ownerId, targetType: 'WEBHOOK', targetId: id, data: { url: maskUrl(w.url), urlDigest: urlDigest(w.url) } });
      return event!;
    });
  }

  /** A new signing secret; the old one keeps signing beside it for a day, so receivers can switch. */
  async rotateSecret(p: Principal, id: string): Promise<{ webhook: Webhook; signingSecret: string }> {
    requireId(id);
    const signingSecret = newWebhookSecret();
    const webhook = await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, p.tenantId);
      const w = await scope.get(Webhook, id, 'webhook', true);
      const sealed = this.box.seal(signingSecret, id);
      Object.assign(w, {
        previousSecretCiphertext: w.secretCiphertext,
        previousSecretKeyId: w.secretKeyId,
        previousSecretUntil: new Date(Date.now() + ROTATION_OVERLAP_MS),
        secretCiphertext: sealed.ciphertext,
        secretKeyId: sealed.keyId,
        updatedAt: new Date(),
      });
      await scope.update(Webhook, id, {
        previousSecretCiphertext: w.previousSecretCiphertext,
        previousSecretKeyId: w.previousSecretKeyId,
        previousSecretUntil: w.previousSecretUntil,
        secretCiphertext: w.secretCiphertext,
        secretKeyId: w.secretKeyId,
        updatedAt: w.updatedAt,
      });
      await this.audit.append(tx, p.tenantId, {
        action: 'WEBHOOK_SECRET_ROTATED',
        actorId: p.ownerId,
        targetType: 'WEBHOOK',
        targetId: id,
        data: { previousSecretUntil: w.previousSecretUntil!.toISOString() },
      });
      return w;
    });
    return { webhook, signingSecret };
  }

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
    const rows = await qb.orderBy('d.id', 'ASC').limit(limit + 1).getMany();
    return connection(rows, limit, totalCount, (d) => d.id);
  }

  /** Sends a dead-lettered delivery again, from its first attempt. */
  async retry(p: Principal, deliveryId: string): Promise<WebhookDelivery> {
    requireId(deliveryId, 'deliveryId');
    const scope = new TenantScope(this.ds.manager, p.tenantId);
    const d = await scope.get(WebhookDelivery, deliveryId, 'webhook delivery');
    if (d.status !== WebhookDeliveryStatus.DEAD) throw badInput(`delivery ${JSON.stringify(deliveryId)} is ${d.status.toLowerCase()}, not dead`);
    const jobId = `${d.id}r${Date.now()}`;
    const nextAttemptAt = new Date();
    await scope.update(WebhookDelivery, deliveryId, { status: WebhookDeliveryStatus.PENDING, attempts: 0, jobId, nextAttemptAt });
    await this.enqueue([{ id: d.id, tenantId: d.tenantId, jobId }]);
    return { ...d, status: WebhookDeliveryStatus.PENDING, attempts: 0, jobId, nextAttemptAt };
  }

  /**
   * Plans deliveries of committed events to the tenant's active endpoints (the relay calls this
   * as it publishes). Idempotent: an event is delivered to an endpoint at most once.
   */
  async plan(tenantId: string, events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const hooks = await new TenantScope(this.ds.manager, tenantId).select(Webhook, 'w').andWhere(`w.status = 'ACTIVE'`).getMany();
    if (hooks.length === 0) return;
    const rows = events.flatMap((e) =>
      hooks
        // A test event goes to the endpoint it tests, and to no other.
        .filter((h) => (e.action === 'WEBHOOK_TESTED' ? h.id === e.targetId : h.events.includes('*') || h.events.includes(e.action)))
        .map((h) => ({ id: uuidv7(), webhookId: h.id, eventId: e.id, eventSeq: e.seq, eventAction: e.action })),
    );
    if (rows.length === 0) return;
    const inserted: Array<{ id: string }> = await this.ds.query(
      `INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_seq, event_action, status, created_at, next_attempt_at, job_id)
       SELECT u.id, $1, u.webhook_id, u.event_id, u.seq, u.action, 'PENDING', now(), now(), u.id::text
         FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::text[]) AS u(id, webhook_id, event_id, seq, action)
       ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING id`,
      [tenantId, rows.map((r) => r.id), rows.map((r) => r.webhookId), rows.map((r) => r.eventId), rows.map((r) => r.eventSeq), rows.map((r) => r.eventAction)],
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

  private checkUrl(raw: string): Promise<string> {
    return checkTargetUrl(this.outbound, raw, 'webhook URL');
  }

  private checkEvents(events: string[]): string[] {
    if (events.length > MAX_EVENTS) throw badInput(`at most ${MAX_EVENTS} events; "*" subscribes to all`, { argument: 'events' });
    const names = [...new Set(events.map((e) => e.trim()))];
    // A name that is no audit action would make a webhook that never fires.
    const bad = names.filter((e) => e !== '*' && !isAuditAction(e));
    if (names.length === 0 || bad.length > 0) {
      const shown = bad.slice(0, 5).map((b) => JSON.stringify(b.slice(0, 64))).join(', ');
      throw badInput(`events must be audit actions such as TOKEN_EXPIRING, or "*"${bad.length ? `; unknown: ${shown}${bad.length > 5 ? ', …' : ''}` : ''}`, { argument: 'events' });
    }
    return names.sort();
  }
}

function checkDescription(description: string | null | undefined): void {
  if (description && description.length > MAX_DESCRIPTION) throw badInput(`description must be at most ${MAX_DESCRIPTION} characters`, { argument: 'description' });
}
