// The relay: the one process (elected through a Redis lock) that reads committed audit events in
// seq order per tenant and publishes each once on Redis pub/sub, with the token it concerns. It
// remembers in Postgres the last seq it published per tenant, so a relay that dies between commit
// and publish loses nothing: the next leader resumes there. (It may publish an event twice in that
// case; subscribers drop what they have already seen by seq.) As it publishes it signs
// checkpoints of the chain and plans webhook deliveries.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Client } from 'pg';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AuditEvent } from '../audit/audit-event.entity';
import { AUDIT_NOTIFY_CHANNEL } from '../audit/audit.service';
import type { AuditSigner } from '../audit/checkpoints';
import { TenantScope } from '../platform/tenant-scope';
import type { ScopeService } from '../scopes/scope.service';
import type { WebhookDispatch } from '../webhooks/webhook-dispatch';
import type { PublishedEvent } from './published-event';
import { tokenSnapshots } from './token-snapshots';

const BATCH = 500;

// KEYS: lock. ARGV: owner, ttl ms. Extends the lock only for its owner.
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

export interface RelayOptions {
  pollMs: number;
  lockTtlMs: number;
  checkpointEvery: number;
}

export class AuditRelay {
  private readonly id = randomUUID();
  private readonly lockKey: string;
  private readonly channel: string;
  private leader = false;
  private listener: Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly ds: DataSource,
    private readonly redis: Redis,
    private readonly databaseUrl: string,
    prefix: string,
    private readonly signer: AuditSigner,
    private readonly scopes: ScopeService,
    private readonly webhooks: WebhookDispatch,
    private readonly opts: RelayOptions,
    private readonly log: Logger,
  ) {
    this.lockKey = `${prefix}:relay:leader`;
    this.channel = `${prefix}:audit`;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  async start(): Promise<void> {
    // Postgres tells us the moment an audit append commits; polling covers a lost notification.
    this.listener = new Client({ connectionString: this.databaseUrl, application_name: 'latchkey-relay' });
    this.listener.on('notification', () => this.wake());
    this.listener.on('error', (err) => this.log.warn({ err }, 'relay notification connection failed; polling'));
    await this.listener.connect();
    await this.listener.query(`LISTEN ${AUDIT_NOTIFY_CHANNEL}`);
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
    this.timer.unref();
    await this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.draining;
    if (this.leader)
      await this.redis
        .eval(
          `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
          1,
          this.lockKey,
          this.id,
        )
        .catch(() => undefined);
    this.leader = false;
    await this.listener?.end().catch(() => undefined);
  }

  private wake(): void {
    if (this.leader) void this.drain();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.leader) {
        this.leader = (await this.redis.eval(RENEW, 1, this.lockKey, this.id, this.opts.lockTtlMs)) === 1;
        if (!this.leader) this.log.warn('lost the relay lock');
      } else {
        this.leader = (await this.redis.set(this.lockKey, this.id, 'PX', this.opts.lockTtlMs, 'NX')) === 'OK';
        if (this.leader) this.log.info('became the audit relay');
      }
      if (this.leader) await this.drain();
    } catch (err) {
      this.log.warn({ err }, 'relay tick failed');
    }
  }

  /** Publishes everything committed and not yet published; one drain at a time. */
  drain(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.again = false;
        await this.drainOnce();
      } while (this.again && this.leader && !this.stopped);
    })()
      .catch((err) => this.log.warn({ err }, 'relay drain failed; retrying at the next tick'))
      .finally(() => (this.draining = null));
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    const lagging: Array<{ tenant_id: string; published: string; head: string }> = await this.ds.query(
      `SELECT h.tenant_id, coalesce(r.published_seq, 0) AS published, h.seq AS head
         FROM audit_heads h LEFT JOIN audit_relay r ON r.tenant_id = h.tenant_id
        WHERE h.seq > coalesce(r.published_seq, 0)`,
    );
    for (const t of lagging) {
      let published = Number(t.published);
      const head = Number(t.head);
      while (published < head && this.leader && !this.stopped) {
        const events = await new TenantScope(this.ds.manager, t.tenant_id)
          .select(AuditEvent, 'e')
          .andWhere('e.seq > :after', { after: published })
          .orderBy('e.seq', 'ASC')
          .limit(BATCH)
          .getMany();
        if (events.length === 0) break;
        await this.publish(t.tenant_id, events);
        const last = events.at(-1)!.seq;
        await this.webhooks.plan(t.tenant_id, events);
        await this.checkpoint(t.tenant_id, events);
        await this.ds.query(
          `INSERT INTO audit_relay (tenant_id, published_seq) VALUES ($1, $2)
           ON CONFLICT (tenant_id) DO UPDATE SET published_seq = GREATEST(audit_relay.published_seq, excluded.published_seq)`,
          [t.tenant_id, last],
        );
        published = last;
      }
    }
  }

  private async publish(tenantId: string, events: AuditEvent[]): Promise<void> {
    const tokens = await tokenSnapshots(this.ds, this.scopes, tenantId, events);
    const pipeline = this.redis.pipeline();
    for (const event of events) {
      const message: PublishedEvent = {
        event,
        ...(event.targetType === 'TOKEN' && tokens.has(event.targetId) ? { token: tokens.get(event.targetId)! } : {}),
      };
      pipeline.publish(this.channel, JSON.stringify(message));
    }
    await pipeline.exec();
  }

  /** Signs the chain head at every multiple of checkpointEvery that these events reach. */
  private async checkpoint(tenantId: string, events: AuditEvent[]): Promise<void> {
    const due = events.filter((e) => e.seq % this.opts.checkpointEvery === 0);
    for (const e of due) {
      await this.ds.query(
        `INSERT INTO audit_checkpoints (tenant_id, seq, hash, key_id, signature, signed_at) VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (tenant_id, seq) DO NOTHING`,
        [tenantId, e.seq, e.hash, this.signer.keyId, this.signer.sign({ tenantId, seq: e.seq, hash: e.hash })],
      );
    }
  }
}
