// What an IP address is, for the address rules: special ranges (private, loopback, link-local,
// unique-local, reserved), cloud metadata endpoints, and addresses of this host. IPv4-mapped IPv6
// addresses (::ffff:a.b.c.d) are judged as the IPv4 address they carry.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { networkInterfaces } from 'node:os';
import { BlockList, isIP } from 'node:net';

export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

export type Family = 'ipv4' | 'ipv6';

const SPECIAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  SPECIAL.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  // ::/8 is reserved whole (see isSpecial); 2002::/16 (6to4), 64:ff9b::/96 and 64:ff9b:1::/48
  // (NAT64) and 2001::/32 (Teredo, inside the IETF's 2001::/23) embed any IPv4 address, private
  // ones included; fec0::/10 is the deprecated site-local range.
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  SPECIAL.addSubnet(net, bits, 'ipv6');
}

/**
 * Instance metadata services (AWS, GCP and Azure on 169.254.169.254, AWS over IPv6, ECS task
 * metadata, Alibaba): refused whatever an allow list says, since no rotator or webhook needs one
 * and each hands out the host's cloud credentials.
 */
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254', '169.254.170.2', '100.100.100.200']);

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('0.0.0.0', 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addAddress('::', 'ipv6');

export const familyOf = (address: string): Family => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** The eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail included). */
function groups(a: string): number[] {
  let text = a;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted) {
    const [w, x, y, z] = dotted.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -dotted.length)}${((w << 8) | x).toString(16)}:${((y << 8) | z).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16));
}

/**
 * The address as the rules judge and compare it: an IPv4-mapped IPv6 address becomes its IPv4
 * address, any other IPv6 address takes its canonical form (fd00:ec2:0::254 is fd00:ec2::254).
 */
export function normalize(address: string): string {
  const a = address
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .split('%')[0]!;
  if (isIP(a) !== 6) return a;
  const g = groups(a);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join('.');
  return new URL(`http://[${a}]/`).hostname.slice(1, -1);
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$/;

/** A host name or IP literal as it may appear in a URL, lower-cased, without brackets or a trailing dot; null when it is neither. */
export function hostOf(raw: string): string | null {
  const host = raw
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  return isIP(host) || HOSTNAME.test(host) ? host : null;
}

/**
 * Special: in a range above, or an IPv6 address in ::/8 (unspecified, loopback, IPv4-compatible and
 * IPv4-translated ones, ::ffff:0:a.b.c.d). That range is judged by its first group: a BlockList
 * would also match every IPv4 address, which it sees as ::ffff:a.b.c.d. (IPv4-mapped addresses
 * reach here already normalized to the IPv4 address they carry.)
 */
export const isSpecial = (address: string): boolean => {
  const family = familyOf(address);
  return SPECIAL.check(address, family) || (family === 'ipv6' && groups(address)[0]! < 0x100);
};
export const isMetadata = (address: string): boolean => METADATA.has(address);

/** Addresses that reach a listener on this host: loopback, unspecified, and every interface's own. */
export function thisHost(): (address: string) => boolean {
  const own = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) own.add(normalize(i.address));
  return (address) => LOOPBACK.check(address, familyOf(address)) || own.has(address);
}
