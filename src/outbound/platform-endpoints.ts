// Latchkey's own Postgres and Redis (DATABASE_URL, REDIS_URL), which no outbound connection may
// reach. They are matched by resolved address and port; an endpoint on this host (a loopback,
// unspecified or interface address, or a Unix socket) is matched by every address of this host at
// its port, since 127.0.0.1, ::1, 0.0.0.0 and ::ffff:127.0.0.1 all reach the same listener.
import { isIP } from 'node:net';
import { hostOf, normalize, type Resolve, systemResolve, thisHost } from './addresses';

export interface Endpoint {
  /** null: a Unix socket, which is on this host. */
  host: string | null;
  port: number;
}

/** Where a DATABASE_URL or REDIS_URL connects (a `host=` parameter of a Postgres URL included). */
export function endpointOf(raw: string): Endpoint {
  const url = new URL(raw);
  const postgres = url.protocol === 'postgres:' || url.protocol === 'postgresql:';
  const host = (postgres ? url.searchParams.get('host') : null) || decodeURIComponent(url.hostname);
  const port = Number(url.port || (postgres ? url.searchParams.get('port') : null) || (postgres ? 5432 : 6379));
  return { host: !host || host.startsWith('/') ? null : hostOf(host), port };
}

/** How long a resolved platform host name is trusted before it is resolved again. */
const RESOLVED_TTL_MS = 30_000;

export class PlatformEndpoints {
  private readonly resolved = new Map<string, { at: number; addresses: string[] }>();

  constructor(
    private readonly endpoints: readonly Endpoint[],
    private readonly resolve: Resolve = systemResolve,
    private readonly onThisHost: (address: string) => boolean = thisHost(),
  ) {}

  /** Whether a connection to `address` (normalized) and `port` reaches Latchkey's own Postgres or Redis. */
  async includes(address: string, port: number): Promise<boolean> {
    for (const e of this.endpoints) {
      if (e.port !== port) continue;
      const addresses = e.host === null ? null : await this.addressesOf(e.host);
      const local = addresses === null || addresses.some(this.onThisHost);
      if ((local && this.onThisHost(address)) || addresses?.includes(address)) return true;
    }
    return false;
  }

  private async addressesOf(host: string): Promise<string[]> {
    if (isIP(host)) return [normalize(host)];
    const known = this.resolved.get(host);
    if (known && Date.now() - known.at < RESOLVED_TTL_MS) return known.addresses;
    try {
      const addresses = (await this.resolve(host)).map((a) => normalize(a.address));
      this.resolved.set(host, { at: Date.now(), addresses });
      return addresses;
    } catch (err) {
      // The last answer stands through a DNS hiccup; without one, nothing can be told apart from it.
      if (known) return known.addresses;
      throw new Error(`Latchkey's own ${host} does not resolve, so no outbound connection can be checked against it`, {
        cause: err,
      });
    }
  }
}
