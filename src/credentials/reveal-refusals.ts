// Refused reveals: a probe must cost the prober, not the audit log. Each token may be refused
// `burst` times, refilled at `perMinute`; past that, a refusal answers 429 (RATE_LIMITED) instead
// of 403. Refusals are audited once per token per minute: the first at once, before the refusal is
// answered (a single probe is never unaudited), the rest of that minute as one event carrying
// their count, names and reasons when the minute ends. A missing name and one not granted take
// exactly this path, so neither the answer nor its cost tells them apart.
import type { AuditGroupCommit } from '../audit/group-commit';
import { DomainError, ErrorCode, forbidden } from '../platform/errors';
import { KeyedBuckets } from '../platform/keyed-buckets';

export type RefusalReason = 'NOT_GRANTED' | 'NO_SUCH_CREDENTIAL';

export interface Refusal {
  tenantId: string;
  ownerId: string;
  tokenId: string;
  name: string;
  /** Null when no credential of that name exists. */
  credentialId: string | null;
  reason: RefusalReason;
  clientIp: string | null;
  door: 'rest' | 'graphql';
}

interface Window {
  tenantId: string;
  ownerId: string;
  startedAt: number;
  lastAt: number;
  repeats: number;
  names: Set<string>;
  reasons: Record<RefusalReason, number>;
  doors: Set<string>;
  clientIp: string | null;
}

const WINDOW_MS = 60_000;
/** Names listed in a summary; the count says how many refusals there were. */
const MAX_NAMES = 20;

export class RevealRefusals {
  private readonly windows = new Map<string, Window>();
  private readonly budget: KeyedBuckets;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly group: AuditGroupCommit,
    settings: { burst: number; perMinute: number },
    private readonly now: () => number = Date.now,
  ) {
    this.budget = new KeyedBuckets(settings.perMinute / 60, settings.burst);
    this.timer = setInterval(() => void this.flush(false), WINDOW_MS / 4).unref();
  }

  /**
   * Records a refusal and returns the error to answer: FORBIDDEN (the same for a missing name and
   * one not granted), or RATE_LIMITED with the wait once the token has no refusals left.
   */
  async refuse(r: Refusal): Promise<DomainError> {
    const at = this.now();
    const limited = !this.budget.allow(r.tokenId, at);
    const open = this.windows.get(r.tokenId);
    if (open && at - open.startedAt < WINDOW_MS) {
      open.repeats++;
      open.lastAt = at;
      if (open.names.size < MAX_NAMES) open.names.add(r.name);
      open.reasons[r.reason]++;
      open.doors.add(r.door);
      open.clientIp = r.clientIp;
    } else {
      if (open) await this.close(r.tokenId, open);
      this.windows.set(r.tokenId, {
        tenantId: r.tenantId,
        ownerId: r.ownerId,
        startedAt: at,
        lastAt: at,
        repeats: 0,
        names: new Set(),
        reasons: { NOT_GRANTED: 0, NO_SUCH_CREDENTIAL: 0 },
        doors: new Set(),
        clientIp: null,
      });
      await this.group.append(r.tenantId, {
        action: 'CREDENTIAL_REVEAL_REFUSED',
        actorId: r.ownerId,
        // A name that does not exist has no credential to file it under: the token's history holds it.
        ...(r.credentialId
          ? { targetType: 'CREDENTIAL', targetId: r.credentialId }
          : { targetType: 'TOKEN', targetId: r.tokenId }),
        data: { name: r.name, tokenId: r.tokenId, clientIp: r.clientIp, door: r.door, reason: r.reason },
      });
    }
    if (limited) {
      const retryAfter = this.budget.retryAfter(r.tokenId);
      return new DomainError(
        ErrorCode.RATE_LIMITED,
        `too many refused credential reads with this token; retry in ${retryAfter} s`,
        { retryAfter, argument: 'name' },
      );
    }
    return forbidden(`no grant to read credential ${r.name} (or no such credential in this tenant)`, {
      argument: 'name',
    });
  }

  /** Writes the repeats of every window that ended (all of them with `all`: at shutdown). */
  async flush(all: boolean): Promise<void> {
    const at = this.now();
    for (const [tokenId, w] of [...this.windows]) {
      if (all || at - w.startedAt >= WINDOW_MS) await this.close(tokenId, w).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush(true);
  }

  private async close(tokenId: string, w: Window): Promise<void> {
    if (this.windows.get(tokenId) === w) this.windows.delete(tokenId);
    if (w.repeats === 0) return;
    await this.group.append(w.tenantId, {
      action: 'CREDENTIAL_REVEAL_REFUSED',
      actorId: w.ownerId,
      targetType: 'TOKEN',
      targetId: tokenId,
      data: {
        tokenId,
        repeats: w.repeats,
        names: [...w.names],
        reasons: w.reasons,
        doors: [...w.doors],
        clientIp: w.clientIp,
        from: new Date(w.startedAt).toISOString(),
        to: new Date(w.lastAt).toISOString(),
      },
    });
  }
}
