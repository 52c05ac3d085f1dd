// WebSocket connections and the credentials they were opened with. A connection whose token is
// revoked, suspended, or expires is closed with 4403 within a second: every token invalidation
// (pub/sub, or this replica's own change poll) re-checks the connections on that token, and a
// timer fires at the expiry. Permission changes refresh what each connection may see.
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { InvalidationBus } from '../verify/invalidation-bus';
import type { Principal } from '../iam/principal';
import { validUntil } from '../verify/verdict';
import type { Verifier } from '../verify/verifier';

export interface LiveConnection {
  socket: WebSocket;
  /** The keyed hash of the credential, never the credential. */
  hash: string;
  principal: Principal;
  /** The client's address at connect, as the trusted proxies report it. */
  clientIp: string | null;
  expiryTimer?: NodeJS.Timeout;
}

export const CLOSE_FORBIDDEN = 4403;
/** A connect refused for now (a 429): the client may retry after the wait given in the reason. */
export const CLOSE_RATE_LIMITED = 4429;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class LiveConnections {
  private readonly byToken = new Map<string, Set<LiveConnection>>();

  constructor(
    private readonly verifier: Verifier,
    bus: InvalidationBus,
    private readonly log: Logger,
  ) {
    bus.listen((msg) => {
      if (msg.kind === 'tokens')
        for (const id of msg.ids) for (const c of this.byToken.get(id) ?? []) void this.recheck(c);
      if (msg.kind === 'reset') this.each((c) => void this.recheck(c));
      if (msg.kind === 'permissions' || msg.kind === 'reset') this.each((c) => void this.refreshPermissions(c));
    });
  }

  /** Watches a connection; `until` is when its credential stops verifying by the clock. */
  add(c: LiveConnection, until: number | null): void {
    let set = this.byToken.get(c.principal.tokenId);
    if (!set) this.byToken.set(c.principal.tokenId, (set = new Set()));
    set.add(c);
    if (until !== null) this.expireAt(c, until);
  }

  remove(c: LiveConnection): void {
    if (c.expiryTimer) clearTimeout(c.expiryTimer);
    const set = this.byToken.get(c.principal.tokenId);
    set?.delete(c);
    if (set?.size === 0) this.byToken.delete(c.principal.tokenId);
  }

  get size(): number {
    let n = 0;
    for (const s of this.byToken.values()) n += s.size;
    return n;
  }

  private each(f: (c: LiveConnection) => void): void {
    for (const set of this.byToken.values()) for (const c of set) f(c);
  }

  private expireAt(c: LiveConnection, at: number): void {
    if (c.expiryTimer) clearTimeout(c.expiryTimer);
    const wait = at - Date.now();
    c.expiryTimer = setTimeout(() => void this.recheck(c), Math.max(0, Math.min(wait + 5, MAX_TIMER_MS)));
    c.expiryTimer.unref();
  }

  private async recheck(c: LiveConnection): Promise<void> {
    try {
      const { result, record } = await this.verifier.recheck(c.hash);
      if (!result.valid) {
        c.socket.close(CLOSE_FORBIDDEN, `Forbidden: the token is ${String(result.failure).toLowerCase()}`);
        this.remove(c);
        return;
      }
      const until = validUntil(record);
      if (until !== null) this.expireAt(c, until);
    } catch (err) {
      this.log.warn({ err, tokenId: c.principal.tokenId }, 'could not re-check a live connection');
    }
  }

  private async refreshPermissions(c: LiveConnection): Promise<void> {
    try {
      c.principal = {
        ...c.principal,
        permissions: await this.verifier.permissionsFor(c.principal.tenantId, c.principal.ownerId),
      };
    } catch (err) {
      this.log.warn({ err, tokenId: c.principal.tokenId }, 'could not refresh the permissions of a live connection');
    }
  }
}
