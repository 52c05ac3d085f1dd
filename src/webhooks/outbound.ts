// Outbound HTTP for webhook deliveries, refusing what an attacker could aim it at: private,
// loopback, link-local and other special addresses (unless allowed in config), after resolving
// the name, and connecting to exactly the address that was checked (no DNS rebinding). Redirects
// are never followed, and every request times out.
import { badInput } from '../platform/errors';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const SPECIAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) {
  SPECIAL.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  // IPv4-mapped addresses (::ffff:0:0/96) are judged as the IPv4 address they carry, in allowed().
  // ::/96 holds the unspecified and loopback addresses and the deprecated IPv4-compatible ones;
  // 2002::/16 (6to4) embeds any IPv4 address, private ones included.
  ['::', 96], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['2002::', 16],
  ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) {
  SPECIAL.addSubnet(net, bits, 'ipv6');
}

export class OutboundRefused extends Error {}

export interface OutboundResponse {
  status: number;
  body: string;
}

export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

export class Outbound {
  private readonly allowedHosts: Set<string>;
  private readonly allowedNets = new BlockList();

  constructor(
    allow: readonly string[],
    private readonly timeoutMs: number,
    private readonly resolve: Resolve = systemResolve,
  ) {
    this.allowedHosts = new Set();
    for (const entry of allow) {
      const [address, bits] = entry.split('/');
      const family = isIP(address ?? '');
      if (family) this.allowedNets.addSubnet(address!, bits ? Number(bits) : family === 6 ? 128 : 32, family === 6 ? 'ipv6' : 'ipv4');
      else this.allowedHosts.add(entry.toLowerCase());
    }
  }

  private allowed(address: string): boolean {
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    // An IPv4-mapped IPv6 address is judged as the IPv4 address it is.
    const mapped = family === 'ipv6' && address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : null;
    if (mapped) return this.allowed(mapped);
    return this.allowedNets.check(address, family) || !SPECIAL.check(address, family);
  }

  /** The address to connect to, or OutboundRefused when the target is not allowed. */
  async vet(url: URL): Promise<LookupAddress> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundRefused(`only http and https URLs are allowed`);
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const family = isIP(hostname);
    const addresses = family ? [{ address: hostname, family }] : await this.resolve(hostname);
    if (addresses.length === 0) throw new OutboundRefused(`${hostname} does not resolve`);
    if (this.allowedHosts.has(hostname.toLowerCase())) return addresses[0]!;
    const refused = addresses.find((a) => !this.allowed(a.address));
    // Every address must be acceptable: a name with one public and one private address is refused.
    if (refused) throw new OutboundRefused(`${hostname} resolves to ${refused.address}, a private, loopback or reserved address`);
    return addresses[0]!;
  }

  async post(target: string, headers: Record<string, string>, body: string): Promise<OutboundResponse> {
    const url = new URL(target);
    const address = await this.vet(url);
    const lookup: LookupFunction = (_host, options, callback) => {
      const all = (options as { all?: boolean }).all;
      if (all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [address]);
      else callback(null, address.address, address.family);
    };
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.request(
        url,
        {
          method: 'POST',
          lookup,
          agent: false, // one connection per delivery: nothing half-written is ever reused
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'Latchkey-Webhooks/1', ...headers },
          timeout: this.timeoutMs,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            if (text.length < 4096) text += c;
          });
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: text.slice(0, 1024) });
            // A receiver may answer before it has read the body: stop sending the rest.
            req.destroy();
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      // A write still under way when the receiver closes fails on the socket itself (EPIPE,
      // ECONNRESET), after the request may have let go of it: without a listener, Node exits.
      req.on('socket', (socket) => socket.on('error', reject));
      req.end(body);
    });
  }
}

const MAX_URL = 2048;

/**
 * A URL an endpoint may be created with (a webhook, a rotator): http(s), no credentials in it,
 * not a private, loopback or reserved address. A name that does not resolve yet (a receiver
 * still being set up) is accepted: every call resolves it again and refuses such addresses then.
 */
export async function checkTargetUrl(outbound: Outbound, raw: string, what: string, argument = 'url'): Promise<string> {
  if (raw.length > MAX_URL) throw badInput(`the URL must be at most ${MAX_URL} characters`, { argument });
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw badInput(`${JSON.stringify(raw.slice(0, 200))} is not a URL`, { argument });
  }
  if (url.username || url.password) throw badInput('the URL must not carry credentials', { argument });
  try {
    await outbound.vet(url);
  } catch (err) {
    if (err instanceof OutboundRefused) throw badInput(`${what} refused: ${err.message}`, { argument });
  }
  return url.toString();
}
