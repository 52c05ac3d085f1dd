// Outbound HTTP (webhook deliveries, webhook rotators): http(s) only, the address rules applied to
// the resolved name and the connection made to exactly the address they passed, no redirects
// followed, one connection per call, the whole exchange under one deadline and the answer read
// up to a size the caller names.
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { type AddressRules, OutboundRefused } from './address-rules';
import { onAbort, withinDeadline } from './deadline';

export interface OutboundResponse {
  status: number;
  /** The answer's first `maxBytes` bytes, as UTF-8. */
  body: string;
  /** True when the answer was longer than `maxBytes` (the rest was not read). */
  truncated: boolean;
}

export class HttpOutbound {
  constructor(
    private readonly rules: AddressRules,
    readonly deadlineMs: number,
  ) {}

  /** The address to connect to, or OutboundRefused when the target is not allowed. */
  async vet(url: URL): Promise<LookupAddress> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new OutboundRefused('only http and https URLs are allowed');
    return this.rules.vet(url.hostname, Number(url.port || (url.protocol === 'https:' ? 443 : 80)));
  }

  post(target: string, headers: Record<string, string>, body: string, maxBytes: number): Promise<OutboundResponse> {
    const url = new URL(target);
    return withinDeadline(this.deadlineMs, async (signal) => {
      const address = await this.vet(url);
      signal.throwIfAborted();
      return send(url, address, headers, body, maxBytes, signal);
    });
  }
}

function send(
  url: URL,
  address: LookupAddress,
  headers: Record<string, string>,
  body: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<OutboundResponse> {
  const lookup: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [address]);
    else callback(null, address.address, address.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        lookup,
        agent: false, // one connection per call: nothing half-written is ever reused
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'Latchkey-Webhooks/1',
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        const done = (truncated: boolean) => {
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8'),
            truncated,
          });
          // A receiver may answer before it has read the body, or answer more than is read: let go of it.
          req.destroy();
        };
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          bytes += c.length;
          if (bytes > maxBytes) done(true);
        });
        res.on('end', () => done(false));
        res.on('error', reject);
      },
    );
    onAbort(signal, () => req.destroy(signal.reason as Error));
    req.on('error', reject);
    // A write still under way when the receiver closes fails on the socket itself (EPIPE,
    // ECONNRESET), after the request may have let go of it: without a listener, Node exits.
    req.on('socket', (socket) => socket.on('error', reject));
    req.end(body);
  });
}
