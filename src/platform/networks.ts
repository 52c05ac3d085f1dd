// Networks: CIDR lists parsed and normalised, whether one list lies within another, and matching an
// address against a list (the networks a token may be used from).
import { BlockList, isIP } from 'node:net';
import { badInput } from './errors';

const MAX_CIDRS = 50;

/** Validates and normalises CIDRs ("10.1.2.3" means "10.1.2.3/32"). */
export function parseCidrs(cidrs: readonly string[], argument = 'allowedCidrs'): string[] {
  if (cidrs.length > MAX_CIDRS) throw badInput(`at most ${MAX_CIDRS} networks`, { argument });
  return [...new Set(cidrs.map((c) => normaliseCidr(c.trim(), argument)))];
}

function normaliseCidr(cidr: string, argument: string): string {
  const [address, bits, extra] = cidr.split('/');
  const family = isIP(address ?? '');
  const max = family === 6 ? 128 : 32;
  const prefix = bits === undefined ? max : Number(bits);
  if (
    !family ||
    extra !== undefined ||
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > max ||
    (bits !== undefined && !/^\d+$/.test(bits))
  ) {
    throw badInput(`${JSON.stringify(cidr)} is not an IP network such as 10.0.0.0/8 or 2001:db8::/32`, { argument });
  }
  return `${address!.toLowerCase()}/${prefix}`;
}

/** A compiled matcher for a set of CIDRs. IPv4-mapped IPv6 client addresses are checked as IPv4. */
export class NetworkMatcher {
  private readonly list = new BlockList();

  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const [address, bits] = c.split('/') as [string, string];
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      try {
        this.list.addSubnet(address, Number(bits), family);
      } catch {
        // Postgres normalised it already; an unusable entry simply matches nothing.
      }
    }
  }

  allows(ip: string | null | undefined): boolean {
    if (!ip) return false;
    const address = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
    const family = isIP(address);
    if (!family) return false;
    return this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** Whether every network of `inner` lies within one of `outer` (normalised CIDRs, as parseCidrs gives). */
export function cidrsWithin(inner: readonly string[], outer: readonly string[]): boolean {
  const nets = outer.map((c) => ({
    prefix: Number(c.split('/')[1]),
    v6: c.includes(':'),
    matcher: new NetworkMatcher([c]),
  }));
  return inner.every((c) => {
    const [address, bits] = c.split('/') as [string, string];
    const v6 = address.includes(':');
    // A network at least as long as an outer one lies in it exactly when one of its addresses does.
    return nets.some((n) => n.v6 === v6 && Number(bits) >= n.prefix && n.matcher.allows(address));
  });
}
