// Every API replica listens once on Redis for the audit events the relay publishes, and hands
// each to the local subscribers of its tenant: one parsed object per event for all of them, which
// is what lets their subscriptions share one execution per event (see shared-execution.ts).
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type PublishedEvent, revive } from './published-event';

export type HubListener = (event: PublishedEvent) => void;

export class AuditHub {
  private readonly byTenant = new Map<string, Set<HubListener>>();
  readonly channel: string;

  constructor(
    private readonly subscriber: Redis,
    prefix: string,
    private readonly log: Logger,
  ) {
    this.channel = `${prefix}:audit`;
  }

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      let event: PublishedEvent;
      try {
        event = revive(JSON.parse(raw) as PublishedEvent);
      } catch (err) {
        this.log.warn({ err }, 'ignoring a malformed audit message');
        return;
      }
      for (const l of this.byTenant.get(event.event.tenantId) ?? []) l(event);
    });
    await this.subscriber.subscribe(this.channel);
  }

  listen(tenantId: string, listener: HubListener): () => void {
    let set = this.byTenant.get(tenantId);
    if (!set) this.byTenant.set(tenantId, (set = new Set()));
    set.add(listener);
    return () => {
      set!.delete(listener);
      if (set!.size === 0) this.byTenant.delete(tenantId);
    };
  }

  get listeners(): number {
    let n = 0;
    for (const s of this.byTenant.values()) n += s.size;
    return n;
  }
}
