// Webhook endpoints of a tenant: create, change, remove, test, rotate their signing secret. Planning
// deliveries is webhook-dispatch.ts, the attempts themselves webhook.jobs.ts.
import type { DataSource } from 'typeorm';
import { type AuditEvent } from '../audit/audit-event.entity';
import { isAuditAction } from '../audit/actions';
import type { AuditService } from '../audit/audit.service';
import type { Principal } from '../iam/principal';
import { badInput, conflict } from '../platform/errors';
import { requireId, uuidv7 } from '../platform/ids';
import type { SecretBox } from '../platform/secret-box';
import { maskUrl, urlDigest } from '../platform/capability-url';
import { assertBelowQuota, QUOTAS } from '../platform/quotas';
import { TenantScope } from '../platform/tenant-scope';
import { checkTargetUrl } from '../outbound/check-target';
import type { HttpOutbound } from '../outbound/http-outbound';
import { newWebhookSecret } from '../outbound/signature';
import { Webhook, WebhookStatus } from './webhook.entity';
import type { UpdateWebhookInput } from './webhook.types';

/** An endpoint subscribes to at most this many actions; every action there is, or "*", fits. */
const MAX_EVENTS = 100;
const MAX_DESCRIPTION = 1000;
const ROTATION_OVERLAP_MS = 24 * 3_600_000;

export class WebhookService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly box: SecretBox,
    private readonly outbound: HttpOutbound,
  ) {}

  async list(p: Principal): Promise<Webhook[]> {
    return new TenantScope(this.ds.manager, p.tenantId).select(Webhook, 'w').orderBy('w.id', 'ASC').getMany();
  }

  async get(p: Principal, id: string): Promise<Webhook> {
    requireId(id);
    return new TenantScope(this.ds.manager, p.tenantId).get(Webhook, id, 'webhook');
  }

  async create(
    p: Principal,
    url: string,
    events: string[],
    description: string | null | undefined,
  ): Promise<{ webhook: Webhook; signingSecret: string }> {
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
      const set = <K extends 'url' | 'events' | 'description' | 'status' | 'disabledReason'>(
        key: K,
        value: Webhook[K],
      ) => {
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
        if (typeof side.url === 'string')
          Object.assign(side, { url: maskUrl(side.url), urlDigest: urlDigest(side.url) });
      }
      w.updatedAt = new Date();
      await scope.update(Webhook, id, {
        url: w.url,
        events: w.events,
        description: w.description,
        status: w.status,
        disabledReason: w.disabledReason,
        updatedAt: w.updatedAt,
      });
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
      await this.audit.append(tx, p.tenantId, {
        action: 'WEBHOOK_DELETED',
        actorId: p.ownerId,
        targetType: 'WEBHOOK',
        targetId: id,
        data: { url: maskUrl(w.url), urlDigest: urlDigest(w.url) },
      });
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
      if (w.status !== WebhookStatus.ACTIVE)
        throw conflict(`webhook ${JSON.stringify(id)} is disabled: enable it to test it`, { id });
      const [event] = await this.audit.append(tx, p.tenantId, {
        action: 'WEBHOOK_TESTED',
        actorId: p.ownerId,
        targetType: 'WEBHOOK',
        targetId: id,
        data: { url: maskUrl(w.url), urlDigest: urlDigest(w.url) },
      });
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

  private checkUrl(raw: string): Promise<string> {
    return checkTargetUrl(this.outbound, raw, 'webhook URL');
  }

  private checkEvents(events: string[]): string[] {
    if (events.length > MAX_EVENTS)
      throw badInput(`at most ${MAX_EVENTS} events; "*" subscribes to all`, { argument: 'events' });
    const names = [...new Set(events.map((e) => e.trim()))];
    // A name that is no audit action would make a webhook that never fires.
    const bad = names.filter((e) => e !== '*' && !isAuditAction(e));
    if (names.length === 0 || bad.length > 0) {
      const shown = bad
        .slice(0, 5)
        .map((b) => JSON.stringify(b.slice(0, 64)))
        .join(', ');
      throw badInput(
        `events must be audit actions such as TOKEN_EXPIRING, or "*"${bad.length ? `; unknown: ${shown}${bad.length > 5 ? ', …' : ''}` : ''}`,
        { argument: 'events' },
      );
    }
    return names.sort();
  }
}

function checkDescription(description: string | null | undefined): void {
  if (description && description.length > MAX_DESCRIPTION)
    throw badInput(`description must be at most ${MAX_DESCRIPTION} characters`, { argument: 'description' });
}
