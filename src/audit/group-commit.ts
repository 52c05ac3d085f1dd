// Group commit of a tenant's audit appends that stand alone (a credential reveal writes nothing
// else): appends arriving while a commit is in flight wait for the next one, which takes the
// chain head's lock once for all of them. Each caller's promise settles after the commit that
// holds its event, so nothing acts on an event that is not durable. One flusher per tenant per
// process; replicas still serialise on the head's row lock, each with a group of its own.
import type { DataSource } from 'typeorm';
import type { AuditEvent } from './audit-event.entity';
import { type AuditEntry, type AuditService, refuseSecrets } from './audit.service';

interface Waiting {
  entry: AuditEntry;
  resolve(event: AuditEvent): void;
  reject(err: unknown): void;
}

export class AuditGroupCommit {
  private readonly queues = new Map<string, Waiting[]>();

  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    /** Most events in one transaction. */
    private readonly maxGroup = 1_000,
  ) {}

  /** Resolves with the event once it is committed in the tenant's chain; rejects if its group failed. */
  append(tenantId: string, entry: AuditEntry): Promise<AuditEvent> {
    refuseSecrets(entry); // before queueing: one bad entry must not fail a group
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(tenantId);
      if (queue) queue.push({ entry, resolve, reject });
      else {
        this.queues.set(tenantId, [{ entry, resolve, reject }]);
        void this.drain(tenantId);
      }
    });
  }

  private async drain(tenantId: string): Promise<void> {
    const queue = this.queues.get(tenantId)!;
    while (queue.length > 0) {
      const group = queue.splice(0, this.maxGroup);
      try {
        const events = await this.ds.transaction((tx) =>
          this.audit.append(
            tx,
            tenantId,
            group.map((w) => w.entry),
          ),
        );
        group.forEach((w, i) => w.resolve(events[i]!));
      } catch (err) {
        for (const w of group) w.reject(err);
      }
    }
    this.queues.delete(tenantId);
  }
}
