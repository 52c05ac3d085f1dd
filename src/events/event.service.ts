// Event streams for subscriptions: replay from Postgres after a given seq, then live from the
// relay, with no gap and no duplicate at the seam. Every message of a tenant passes through one
// serial chain per subscriber: a seq already seen is dropped, and a seq that skips ahead is first
// filled in from Postgres, so the subscriber sees each seq once, in order.
import type { DataSource } from 'typeorm';
import { AuditEvent } from '../audit/audit-event.entity';
import { hasPermission, type Principal, tokenOwnerRestriction } from '../iam/principal';
import { Permission } from '../iam/permissions';
import { TenantScope } from '../platform/tenant-scope';
import type { ScopeService } from '../scopes/scope.service';
import { TokenRow } from '../tokens/token.entity';
import { applyTokenFilter, toToken } from '../tokens/token-query';
import type { Token } from '../tokens/token.types';
import { TokenStatus } from '../tokens/token.types';
import { AsyncQueue } from './async-queue';
import type { AuditHub } from './audit-hub';
import {
  CREDENTIAL_CHANGE_ACTIONS,
  type CredentialChange,
  EXPIRING_LIMIT,
  type ExpiringCredential,
  type ExpiringTokensUpdate,
  LIFECYCLE_ACTIONS,
  type TokenLifecycleEvent,
  type TokenLifecycleKind,
} from './event.types';
import type { PublishedEvent, TokenSnapshot } from './published-event';
import { tokenSnapshots } from './token-snapshots';

const REPLAY_BATCH = 500;
const EXPIRING_REFRESH_MS = 5_000;
/** How long one read of the expiring list serves every subscriber with the same view. */
const EXPIRING_SHARE_MS = 1_000;

/** Who is listening: the principal can change while connected (roles, revocation). */
export type PrincipalRef = () => Principal;

export interface LifecycleFilter {
  kinds?: TokenLifecycleKind[] | null;
  ownerId?: string | null;
  labels?: Record<string, unknown> | null;
  scope?: string | null;
}

export class EventService {
  private readonly expiringReads = new Map<string, { at: number; seq: number; rows: Promise<TokenRow[]> }>();
  /** The last token event this replica saw per tenant: a shared read older than it is stale. */
  private readonly tokenEventSeq = new Map<string, number>();

  constructor(
    private readonly ds: DataSource,
    private readonly hub: AuditHub,
    private readonly scopes: ScopeService,
  ) {}

  /** Audit events after `afterSeq` (or from now), in seq order, each once. */
  auditEvents(
    who: PrincipalRef,
    afterSeq: number | null | undefined,
    actions: string[] | null | undefined,
  ): AsyncQueue<AuditEvent> {
    const wanted = actions?.length ? new Set(actions) : null;
    return this.stream(who, afterSeq, false, (p, principal) =>
      hasPermission(principal, Permission.AUDIT_READ) && (!wanted || wanted.has(p.event.action)) ? p.event : null,
    );
  }

  /**
   * Changes of the named credentials (all, when none are named) that their consumers act on. A
   * principal that may not read credentials' metadata sees those it holds a grant on (`granted`,
   * read when subscribing).
   */
  credentialChanges(
    who: PrincipalRef,
    names: string[] | null | undefined,
    granted: ReadonlySet<string> | null,
    afterSeq: number | null | undefined,
  ): AsyncQueue<CredentialChange> {
    const wanted = names?.length ? new Set(names) : null;
    return this.stream(who, afterSeq, false, (p, principal) => {
      const kind = CREDENTIAL_CHANGE_ACTIONS[p.event.action];
      const name = p.event.data.name;
      if (!kind || typeof name !== 'string' || (wanted && !wanted.has(name))) return null;
      if (!hasPermission(principal, Permission.CREDENTIAL_READ) && !granted?.has(name)) return null;
      const version = p.event.data.version ?? p.event.data.pendingVersion;
      return { kind, name, version: typeof version === 'number' ? version : null, at: p.event.at, seq: p.event.seq };
    });
  }

  /** Token lifecycle events, filtered, each carrying the audit seq it came from. */
  tokenLifecycle(
    who: PrincipalRef,
    filter: LifecycleFilter,
    afterSeq: number | null | undefined,
  ): AsyncQueue<TokenLifecycleEvent> {
    const kinds = filter.kinds?.length ? new Set(filter.kinds) : null;
    return this.stream(who, afterSeq, true, (p, principal) => {
      const kind = LIFECYCLE_ACTIONS[p.event.action];
      if (!kind || !p.token || (kinds && !kinds.has(kind))) return null;
      if (!hasPermission(principal, Permission.TOKEN_READ)) return null;
      const { row, scopes } = p.token;
      const restrictedTo = tokenOwnerRestriction(principal);
      if (restrictedTo && row.ownerId !== restrictedTo) return null;
      if (filter.ownerId && row.ownerId !== filter.ownerId) return null;
      if (filter.scope && !scopes.some((s) => s.name === filter.scope)) return null;
      if (filter.labels && Object.entries(filter.labels).some(([k, v]) => row.labels[k] !== v)) return null;
      // One object per event for every subscriber it reaches: their executions are shared.
      let value = lifecycleEvents.get(p);
      if (!value) {
        const expiresAt =
          p.event.action === 'TOKEN_EXPIRING' && typeof p.event.data.expiresAt === 'string'
            ? new Date(p.event.data.expiresAt)
            : row.expiresAt;
        lifecycleEvents.set(
          p,
          (value = { kind, at: p.event.at, token: tokenOf(p.token), expiresAt, seq: p.event.seq }),
        );
      }
      return value;
    });
  }

  /**
   * The expiring tokens one audience sees. Every dashboard of a tenant refreshes at once after a
   * token event: they share one read, made after the last token event this replica saw.
   */
  private expiringRows(tenantId: string, restrictedTo: string | null, within: number, now: Date): Promise<TokenRow[]> {
    const key = `${tenantId}|${restrictedTo ?? '*'}|${within}`;
    const seq = this.tokenEventSeq.get(tenantId) ?? 0;
    const hit = this.expiringReads.get(key);
    if (hit && hit.seq === seq && now.getTime() - hit.at < EXPIRING_SHARE_MS) return hit.rows;
    const qb = new TenantScope(this.ds.manager, tenantId).select(TokenRow, 't');
    if (restrictedTo) qb.andWhere('t.ownerId = :self', { self: restrictedTo });
    applyTokenFilter(qb, { status: [TokenStatus.ACTIVE], expiresBefore: new Date(now.getTime() + within * 1000) }, now);
    const rows = qb.orderBy('t.expiresAt', 'ASC').addOrderBy('t.id', 'ASC').limit(EXPIRING_LIMIT).getMany();
    for (const [k, v] of this.expiringReads)
      if (now.getTime() - v.at >= EXPIRING_SHARE_MS) this.expiringReads.delete(k);
    this.expiringReads.set(key, { at: now.getTime(), seq, rows });
    rows.catch(() => this.expiringReads.delete(key));
    return rows;
  }

  private stream<T>(
    who: PrincipalRef,
    afterSeq: number | null | undefined,
    withTokens: boolean,
    select: (p: PublishedEvent, principal: Principal) => T | null,
  ): AsyncQueue<T> {
    const { tenantId } = who();
    let last = 0;
    let chain: Promise<void>;
    const queue: AsyncQueue<T> = new AsyncQueue<T>(() => unlisten());
    const emit = (p: PublishedEvent) => {
      if (p.event.seq <= last) return; // already delivered (replayed, or published twice)
      last = p.event.seq;
      const value = select(p, who());
      if (value !== null) queue.push(value);
    };
    const fill = async (until: number) => {
      for (;;) {
        const events = await new TenantScope(this.ds.manager, tenantId)
          .select(AuditEvent, 'e')
          .andWhere('e.seq > :last AND e.seq < :until', { last, until })
          .orderBy('e.seq', 'ASC')
          .limit(REPLAY_BATCH)
          .getMany();
        const tokens = withTokens
          ? await tokenSnapshots(this.ds, this.scopes, tenantId, events)
          : new Map<string, TokenSnapshot>();
        for (const event of events)
          emit({ event, token: event.targetType === 'TOKEN' ? tokens.get(event.targetId) : undefined });
        if (events.length < REPLAY_BATCH) return;
      }
    };
    const step = (work: () => Promise<void> | void) => {
      chain = chain.then(work).catch((err) => queue.fail(err));
    };
    // The start: where to begin, then the replay. Live messages queue up behind it on the chain.
    chain = (async () => {
      if (afterSeq === null || afterSeq === undefined) {
        const [head] = await this.ds.query(`SELECT seq FROM audit_heads WHERE tenant_id = $1`, [tenantId]);
        last = Number(head?.seq ?? 0);
      } else {
        last = Math.max(0, afterSeq);
        await fill(Number.MAX_SAFE_INTEGER);
      }
    })().catch((err) => queue.fail(err));
    const unlisten = this.hub.listen(tenantId, (p) =>
      step(async () => {
        if (p.event.seq > last + 1) await fill(p.event.seq); // a gap: fetch what was missed
        emit(p);
      }),
    );
    return queue;
  }

  /**
   * The "expiring soon" list, live: first the whole list, then the list again with what was added
   * and removed whenever a token changes or time moves tokens into the window.
   */
  /** Credential versions handed out (CURRENT, or PREVIOUS in its grace) whose vendor expiry falls within `within` seconds. */
  private async expiringCredentials(tenantId: string, within: number, now: Date): Promise<ExpiringCredential[]> {
    const rows: Array<{ name: string; version: number; state: string; expires_at: Date }> = await this.ds.query(
      `SELECT c.name, v.version, v.state, v.expires_at FROM credential_versions v JOIN credentials c ON c.id = v.credential_id
        WHERE v.tenant_id = $1 AND v.state IN ('CURRENT', 'PREVIOUS') AND v.expires_at IS NOT NULL AND v.expires_at <= $2
        ORDER BY v.expires_at, c.name LIMIT ${EXPIRING_LIMIT}`,
      [tenantId, new Date(now.getTime() + within * 1000)],
    );
    return rows.map((r) => ({ name: r.name, version: r.version, state: r.state, expiresAt: r.expires_at }));
  }

  expiringTokens(who: PrincipalRef, within: number): AsyncQueue<ExpiringTokensUpdate> {
    const { tenantId } = who();
    let previous: Map<string, string> | null = null;
    let previousCredentials = '';
    let pending: NodeJS.Timeout | null = null;
    let running = Promise.resolve();
    const refresh = () => {
      running = running
        .then(async () => {
          if (queue.isClosed) return;
          const principal = who();
          if (!hasPermission(principal, Permission.TOKEN_READ))
            return queue.fail(new Error('TOKEN_READ was taken away'));
          const now = new Date();
          const rows = await this.expiringRows(tenantId, tokenOwnerRestriction(principal), within, now);
          const credentials = hasPermission(principal, Permission.CREDENTIAL_READ)
            ? await this.expiringCredentials(tenantId, within, now)
            : [];
          const credentialKey = JSON.stringify(credentials);
          // A token's version moves with every change that matters to the list.
          const current = new Map(rows.map((r) => [r.id, `${r.version}`]));
          const added = rows.filter((r) => !previous?.has(r.id)).map((r) => r.id);
          const removed = previous ? [...previous.keys()].filter((id) => !current.has(id)) : [];
          const changed =
            previous === null ||
            added.length > 0 ||
            removed.length > 0 ||
            rows.some((r) => previous!.get(r.id) !== `${r.version}`) ||
            credentialKey !== previousCredentials;
          if (changed)
            queue.push({
              initial: previous === null,
              tokens: rows.map((r) => toToken(r, now)),
              credentials,
              added: previous ? added : rows.map((r) => r.id),
              removed,
              at: now,
            });
          previous = current;
          previousCredentials = credentialKey;
        })
        .catch((err) => queue.fail(err));
    };
    const soon = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        refresh();
      }, 50);
    };
    const timer = setInterval(refresh, EXPIRING_REFRESH_MS);
    const unlisten = this.hub.listen(tenantId, (p) => {
      if (p.event.targetType === 'CREDENTIAL') return soon();
      if (p.event.targetType !== 'TOKEN') return;
      this.tokenEventSeq.set(tenantId, p.event.seq);
      soon();
    });
    const queue: AsyncQueue<ExpiringTokensUpdate> = new AsyncQueue(() => {
      clearInterval(timer);
      if (pending) clearTimeout(pending);
      unlisten();
    });
    refresh();
    return queue;
  }
}

const lifecycleEvents = new WeakMap<PublishedEvent, TokenLifecycleEvent>();

function tokenOf(s: TokenSnapshot): Token {
  return { ...toToken(s.row), preloaded: { scopes: s.scopes, owner: s.owner } };
}
