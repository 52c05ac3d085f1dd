// Client addresses behind proxies (ClientAddresses, src/platform/http.ts).
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ClientAddresses } from '../../src/platform/http';

describe('ClientAddresses', () => {
  const req = (peer: string, headers: Record<string, string> = {}) =>
    ({ socket: { remoteAddress: peer }, headers }) as unknown as IncomingMessage;
  it('believes forwarding headers from trusted proxies only, taking the rightmost untrusted hop', () => {
    const none = new ClientAddresses([]);
    expect(none.of(req('198.51.100.1', { 'x-forwarded-for': '10.0.0.1' }))).toBe('198.51.100.1');
    const trusted = new ClientAddresses(['127.0.0.1', '10.0.0.0/8']);
    expect(trusted.of(req('::ffff:127.0.0.1', { 'x-forwarded-for': '203.0.113.5, 10.1.1.1' }))).toBe('203.0.113.5');
    expect(trusted.of(req('127.0.0.1', { 'x-forwarded-for': '203.0.113.5, 192.0.2.9' }))).toBe('192.0.2.9');
    expect(trusted.of(req('127.0.0.1', { 'x-real-ip': '203.0.113.7' }))).toBe('203.0.113.7');
    expect(trusted.of(req('127.0.0.1', { 'x-forwarded-for': 'not-an-ip' }))).toBe('127.0.0.1');
    expect(trusted.of(req('198.51.100.1', { 'x-real-ip': '10.1.1.1' }))).toBe('198.51.100.1');
  });
});
