// The address rules every outbound connection follows: the name is resolved here, every address
// it resolves to is judged, and the caller connects to exactly the address returned (DNS pinned:
// no second lookup a rebinding name could answer differently). Special addresses (private,
// loopback, link-local, unique-local, reserved) are refused unless the allow list names them;
// cloud metadata endpoints and Latchkey's own Postgres and Redis are refused whatever it says.
import type { LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import {
  type Family,
  familyOf,
  hostOf,
  isMetadata,
  isSpecial,
  normalize,
  type Resolve,
  systemResolve,
} from './addresses';
import type { PlatformEndpoints } from './platform-endpoints';

/** A target the rules refuse. The message names the rule, never an address the name resolved to. */
export class OutboundRefused extends Error {
  override name = 'OutboundRefused';
}

interface Allowed {
  hosts: Map<string, Set<number> | 'any'>;
  nets: Array<{ list: BlockList; port: number | null }>;
}

/**
 * Allow-list entries: an IP address, a network (10.0.0.0/8), a host name, or either of the first
 * and the third with a port (127.0.0.1:6380, [::1]:6380, db.internal:5432). Entries are checked
 * by the configuration; one that does not parse here is ignored.
 */
function parseAllow(entries: readonly string[]): Allowed {
  const allowed: Allowed = { hosts: new Map(), nets: [] };
  const addNet = (address: string, bits: number | null, port: number | null) => {
    const list = new BlockList();
    const a = normalize(address);
    const family: Family = familyOf(a);
    // An IPv4-mapped network (::ffff:10.0.0.0/104) is the IPv4 network it maps (10.0.0.0/8).
    const mapped = family === 'ipv4' && isIP(address) === 6;
    list.addSubnet(a, bits === null ? (family === 'ipv6' ? 128 : 32) : mapped ? Math.max(0, bits - 96) : bits, family);
    allowed.nets.push({ list, port });
  };
  for (const entry of entries) {
    const e = entry.trim().toLowerCase();
    if (isIP(e)) addNet(e, null, null);
    else if (e.includes('/')) {
      const [address, bits] = e.split('/');
      if (isIP(address ?? '') && /^\d+$/.test(bits ?? '')) addNet(address!, Number(bits), null);
    } else {
      const m = /^(?:\[([0-9a-f:.]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(e);
      if (!m) continue;
      const host = m[1] ?? m[2]!;
      const port = m[3] ? Number(m[3]) : null;
      if (isIP(host)) addNet(host, null, port);
      else {
        const ports = allowed.hosts.get(host);
        if (port === null) allowed.hosts.set(host, 'any');
        else if (ports !== 'any') allowed.hosts.set(host, new Set([...(ports ?? []), port]));
      }
    }
  }
  return allowed;
}

export class AddressRules {
  private readonly allowed: Allowed;

  constructor(
    allow: readonly string[],
    private readonly platform: PlatformEndpoints,
    private readonly resolve: Resolve = systemResolve,
  ) {
    this.allowed = parseAllow(allow);
  }

  /** The address to connect to for `host` and `port`, or OutboundRefused. */
  async vet(rawHost: string, port: number): Promise<LookupAddress> {
    const host = hostOf(rawHost);
    if (!host) throw new OutboundRefused('the host is not a host name or an IP address');
    const literal = isIP(host);
    const addresses = literal ? [{ address: host, family: literal }] : await this.resolve(host);
    if (addresses.length === 0) throw new OutboundRefused(`${host} does not resolve`);
    const byName = this.allowed.hosts.get(host);
    const nameAllowed = byName === 'any' || (byName?.has(port) ?? false);
    // Every address must be acceptable: a name with one public and one private address is refused.
    // One message for every refusal: which rule refused would tell where Latchkey's own servers are.
    for (const { address } of addresses) {
      const a = normalize(address);
      const refused =
        isMetadata(a) ||
        (await this.platform.includes(a, port)) ||
        (!nameAllowed && isSpecial(a) && !this.allowedAddress(a, port));
      if (refused)
        throw new OutboundRefused(
          `${host} is or resolves to an address the rules refuse (private, loopback, link-local, reserved, a metadata endpoint or Latchkey's own)`,
        );
    }
    return addresses[0]!;
  }

  private allowedAddress(address: string, port: number): boolean {
    const family = familyOf(address);
    return this.allowed.nets.some((n) => (n.port === null || n.port === port) && n.list.check(address, family));
  }
}
