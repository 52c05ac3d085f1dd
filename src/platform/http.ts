// What a request says about its caller, for every door (HTTP and WebSocket): the client's address
// as trusted proxies report it, and the bearer token.
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/**
 * The client's address for a request: the peer's, unless the peer is a trusted proxy
 * (TRUSTED_PROXIES), whose forwarding headers are then believed: the rightmost X-Forwarded-For hop
 * that is not itself a trusted proxy, else X-Real-IP. Nobody else's headers are believed.
 */
export class ClientAddresses {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  constructor(trustedProxies: readonly string[]) {
    for (const cidr of trustedProxies) {
      const [address, bits] = cidr.split('/') as [string, string | undefined];
      const v6 = isIP(address) === 6;
      this.trusted.addSubnet(address, bits === undefined ? (v6 ? 128 : 32) : Number(bits), v6 ? 'ipv6' : 'ipv4');
    }
    this.any = trustedProxies.length > 0;
  }

  of(req: IncomingMessage): string | null {
    const peer = unmapped(req.socket.remoteAddress ?? null);
    if (!this.any || !peer || !this.isTrusted(peer)) return peer;
    const forwarded = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? ''))
      .split(',')
      .map((h) => unmapped(h.trim()))
      .filter((h): h is string => !!h && isIP(h) !== 0);
    for (let i = hops.length - 1; i >= 0; i--) if (!this.isTrusted(hops[i]!)) return hops[i]!;
    if (hops.length > 0) return hops[0]!;
    const real = unmapped(String(req.headers['x-real-ip'] ?? '').trim());
    return real && isIP(real) ? real : peer;
  }

  private isTrusted(ip: string): boolean {
    return this.trusted.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  }
}

/** An IPv4-mapped IPv6 address as the IPv4 address it is. */
function unmapped(ip: string | null): string | null {
  return ip && ip.toLowerCase().startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearer(header: string | undefined): string | null {
  if (!header) return null;
  // The common spelling without a regular expression: this runs twice per gateway request.
  if (header.startsWith('Bearer ') && header.indexOf(' ', 7) === -1) return header.length > 7 ? header.slice(7) : null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}
