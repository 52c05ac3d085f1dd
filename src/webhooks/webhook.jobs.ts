// The BullMQ processor of webhook deliveries: one attempt of one delivery, signed as Standard
// Webhooks, retried with exponential backoff, dead-lettered with the last response when every
// attempt failed. An endpoint that keeps failing is disabled, and that is audited. A failure is
// recorded as what the tenant may know: a status, the deadline, or a category (never the
// network's own words, which tell open ports from closed ones).
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AuditEvent } from '../audit/audit-event.entity';
import type { AuditService } from '../audit/audit.service';
import type { SecretBox } from '../platform/secret-box';
import { TenantScope } from '../platform/tenant-scope';
import { OutboundRefused } from '../outbound/address-rules';
import { DeadlineExceeded } from '../outbound/deadline';
import { categoryOf } from '../outbound/failure';
import type { HttpOutbound, OutboundResponse } from '../outbound/http-outbound';
import { webhookHeaders } from '../outbound/signature';
import { Webhook, WebhookDelivery, WebhookDeliveryStatus, WebhookStatus } from './webhook.entity';
import type { WebhookSettings } from './webhook-dispatch';

const DISABLE_AFTER_SILENCE_MS = 24 * 3_600_000;

export interface DeliveryOutcome {
  status: 'delivered' | 'retrying' | 'dead' | 'skipped';
  reason?: string;
}

export class WebhookDeliveries {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly box: SecretBox,
    private readonly outbound: HttpOutbound,
    private readonly settings: WebhookSettings,
    private readonly log: Logger,
  ) {}

  /**
   * One attempt of one delivery (the BullMQ processor). Throws to be retried. The count of
   * attempts is Postgres's: a job put back by the sweep starts BullMQ's count again.
   */
  async attempt(deliveryId: string, tenantId: string): Promise<DeliveryOutcome> {
    const scope = new TenantScope(this.ds.manager, tenantId);
    const [d] = await scope.findByIds(WebhookDelivery, [deliveryId]);
    if (!d || d.status !== WebhookDeliveryStatus.PENDING)
      return { status: 'skipped', reason: d ? `already ${d.status}` : 'no such delivery' };
    const [w] = await scope.findByIds(Webhook, [d.webhookId]);
    if (!w || w.status !== WebhookStatus.ACTIVE) return this.dead(d, null, 'the endpoint is disabled', null);
    const [e] = await scope.findByIds(AuditEvent, [d.eventId]);
    if (!e) return this.dead(d, null, 'the event is missing', null);
    const body = JSON.stringify({ type: e.action, timestamp: e.at.toISOString(), data: eventPayload(e) });
    const secrets = this.secretsOf(w);
    // A secret the ring cannot open (its key dropped) fails this attempt visibly, like a receiver
    // error, and the next attempt tries again: putting the key back lets the delivery through.
    if (typeof secrets === 'string') return this.failed(d, w, null, secrets, null);
    const headers = webhookHeaders(secrets, `msg_${e.id}`, Math.floor(Date.now() / 1000), body);
    let res: OutboundResponse;
    try {
      // The first KiB of the answer is kept with the delivery; the rest is not read.
      res = await this.outbound.post(w.url, headers, body, 1024);
    } catch (err) {
      if (err instanceof OutboundRefused) return this.dead(d, null, `refused: ${err.message}`, null, w);
      return this.failed(d, w, null, err instanceof DeadlineExceeded ? err.message : categoryOf(err, false), null);
    }
    if (res.status >= 200 && res.status < 300) {
      const now = new Date();
      await scope.update(WebhookDelivery, d.id, {
        status: WebhookDeliveryStatus.DELIVERED,
        attempts: d.attempts + 1,
        lastAttemptAt: now,
        lastStatus: res.status,
        lastError: null,
        lastResponse: res.body,
        deliveredAt: now,
        nextAttemptAt: null,
      });
      await scope.update(Webhook, w.id, { lastSuccessAt: now });
      return { status: 'delivered' };
    }
    const error =
      res.status >= 300 && res.status < 400
        ? `redirected (${res.status}); redirects are not followed`
        : `answered ${res.status}`;
    return this.failed(d, w, res.status, error, res.body);
  }

  /** The endpoint's signing secrets, or why they cannot be opened. */
  private secretsOf(w: Webhook): string[] | string {
    const sealed = [{ ciphertext: w.secretCiphertext, keyId: w.secretKeyId }];
    if (w.previousSecretCiphertext && w.previousSecretUntil && w.previousSecretUntil > new Date())
      sealed.push({ ciphertext: w.previousSecretCiphertext, keyId: w.previousSecretKeyId! });
    const secrets: string[] = [];
    for (const s of sealed) {
      try {
        secrets.push(this.box.open(s, w.id));
      } catch {
        const why = this.box.holds(s.keyId)
          ? `key ${s.keyId} of the ring does not open it`
          : `it is sealed under key ${s.keyId}, which the key ring does not hold`;
        return `the endpoint's signing secret cannot be opened: ${why}`;
      }
    }
    return secrets;
  }

  /** An attempt that did not deliver: the next one is scheduled (the job throws to be retried), or the delivery is dead. */
  private async failed(
    d: WebhookDelivery,
    w: Webhook,
    status: number | null,
    error: string,
    response: string | null,
  ): Promise<DeliveryOutcome> {
    const scope = new TenantScope(this.ds.manager, d.tenantId);
    const attempts = d.attempts + 1;
    if (attempts >= this.settings.attempts) return this.dead(d, status, error, response, w);
    // BullMQ's exponential backoff: the delay doubles from backoffMs with each attempt made.
    const nextAttemptAt = new Date(Date.now() + this.settings.backoffMs * 2 ** (attempts - 1));
    await scope.update(WebhookDelivery, d.id, {
      attempts,
      lastAttemptAt: new Date(),
      lastStatus: status,
      lastError: error,
      lastResponse: response,
      nextAttemptAt,
    });
    throw new Error(`delivery ${d.id}: ${error}`);
  }

  private async dead(
    d: WebhookDelivery,
    status: number | null,
    error: string | null,
    response: string | null,
    w?: Webhook,
  ): Promise<DeliveryOutcome> {
    await this.ds.transaction(async (tx) => {
      const scope = new TenantScope(tx, d.tenantId);
      await scope.update(WebhookDelivery, d.id, {
        status: WebhookDeliveryStatus.DEAD,
        attempts: d.attempts + 1,
        nextAttemptAt: null,
        lastAttemptAt: new Date(),
        lastStatus: status,
        lastError: error,
        lastResponse: response,
      });
      // An endpoint that has not taken a delivery for a day is switched off, and that is audited.
      if (
        w &&
        w.status === WebhookStatus.ACTIVE &&
        (!w.lastSuccessAt || Date.now() - w.lastSuccessAt.getTime() > DISABLE_AFTER_SILENCE_MS)
      ) {
        const reason = `deliveries kept failing (last: ${error ?? 'unknown'})`;
        await scope.update(Webhook, w.id, {
          status: WebhookStatus.DISABLED,
          disabledReason: reason,
          updatedAt: new Date(),
        });
        await this.audit.append(tx, d.tenantId, {
          action: 'WEBHOOK_DISABLED',
          actorId: null,
          targetType: 'WEBHOOK',
          targetId: w.id,
          data: { reason, deliveryId: d.id },
        });
        this.log.warn({ webhookId: w.id, tenantId: d.tenantId }, 'disabled a webhook that kept failing');
      }
    });
    return { status: 'dead', reason: error ?? undefined };
  }
}

/** The event as receivers get it: every chain field, so they can check it too. */
export function eventPayload(e: AuditEvent): Record<string, unknown> {
  return {
    id: e.id,
    tenantId: e.tenantId,
    seq: e.seq,
    at: e.at.toISOString(),
    action: e.action,
    actorId: e.actorId,
    targetType: e.targetType,
    targetId: e.targetId,
    data: e.data,
    prevHash: e.prevHash,
    hash: e.hash,
  };
}
