// The outbound address rules on their own, with a resolver of the test's own (no DNS query leaves
// this machine, no connection is made): allow-list entries, metadata endpoints, Latchkey's own
// endpoints.
import { describe, expect, it } from 'vitest';
import { AddressRules, OutboundRefused } from '../../src/outbound/address-rules';
import type { Resolve } from '../../src/outbound/addresses';
import { endpointOf, PlatformEndpoints } from '../../src/outbound/platform-endpoints';

const names: Record<string, string[]> = {
  'db.internal': ['10.0.5.7'],
  'public.example': ['93.184.216.34'],
  'rebind.example': ['93.184.216.34', '127.0.0.1'],
  'platform-db.internal': ['10.0.5.7'],
  localhost: ['127.0.0.1', '::1'],
};
const resolve: Resolve = async (host) => {
  const found = names[host];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};
const onThisHost = (a: string) =>
  a.startsWith('127.') || a === '::1' || a === '0.0.0.0' || a === '::' || a === '192.0.2.10';
const rules = (allow: string[], platform = ['postgres://postgres@127.0.0.1:5432/latchkey', 'redis://localhost:6379']) =>
  new AddressRules(allow, new PlatformEndpoints(platform.map(endpointOf), resolve, onThisHost), resolve);
const refused = (r: AddressRules, host: string, port: number) =>
  expect(r.vet(host, port), `${host}:${port}`).rejects.toBeInstanceOf(OutboundRefused);

describe('the address rules', () => {
  it('refuse special addresses unless an entry lists them: an address, a network, a host, with or without a port', async () => {
    const strict = rules([]);
    for (const host of [
      '127.0.0.1',
      '10.1.2.3',
      '[::1]',
      '[fc00::1]',
      '[fe80::1]',
      '0.0.0.0',
      '100.64.0.1',
      'db.internal',
      'rebind.example',
      '[::ffff:10.1.2.3]',
      '[2002:7f00:1::1]',
      // IPv4 inside IPv6 by translation, NAT64 for local use, Teredo, site-local.
      '[::ffff:0:7f00:1]',
      '[::ffff:0:0:7f00:1]',
      '[64:ff9b:1::7f00:1]',
      '[2001:0:4136:e378:8000:63bf:80ff:fffe]',
      '[2001::1]',
      '[fec0::1]',
    ])
      await refused(strict, host, 6380);
    await expect(strict.vet('public.example', 443)).resolves.toMatchObject({ address: '93.184.216.34' });
    await expect(rules(['10.0.0.0/8']).vet('db.internal', 5432)).resolves.toMatchObject({ address: '10.0.5.7' });
    await expect(rules(['db.internal']).vet('db.internal', 5432)).resolves.toMatchObject({ address: '10.0.5.7' });
    await expect(rules(['db.internal:5432']).vet('db.internal', 5432)).resolves.toMatchObject({ address: '10.0.5.7' });
    await refused(rules(['db.internal:5432']), 'db.internal', 6379);
    await expect(rules(['127.0.0.1:6380']).vet('127.0.0.1', 6380)).resolves.toMatchObject({ address: '127.0.0.1' });
    await refused(rules(['127.0.0.1:6380']), '127.0.0.1', 6381);
    await expect(rules(['[::1]:6380']).vet('[::1]', 6380)).resolves.toMatchObject({ address: '::1' });
    await expect(rules(['::ffff:10.0.0.0/104']).vet('db.internal', 5432)).resolves.toMatchObject({
      address: '10.0.5.7',
    });
  });

  it('refuse metadata endpoints whatever the allow list says', async () => {
    const open = rules(['169.254.0.0/16', 'fd00::/8', '169.254.169.254', '100.64.0.0/10']);
    for (const host of [
      '169.254.169.254',
      '[fd00:ec2::254]',
      '[fd00:ec2:0::254]',
      '[::ffff:169.254.169.254]',
      '169.254.170.2',
      '100.100.100.200',
    ])
      await refused(open, host, 80);
  });

  it('refuse Latchkey’s own Postgres and Redis in every form of this host, whatever the allow list says, and other ports of it when allowed', async () => {
    const open = rules(['127.0.0.0/8', '::1', '0.0.0.0', '::', 'localhost', '192.0.2.10']);
    for (const port of [5432, 6379]) {
      for (const host of [
        '127.0.0.1',
        '127.1.2.3',
        '[::1]',
        '0.0.0.0',
        '[::]',
        '[::ffff:127.0.0.1]',
        '[::ffff:7f00:1]',
        '192.0.2.10',
      ])
        await refused(open, host, port);
    }
    await expect(open.vet('127.0.0.1', 6380)).resolves.toMatchObject({ address: '127.0.0.1' });
  });

  it('refuse a platform endpoint elsewhere by its resolved address and port, and a Unix-socket DATABASE_URL on this host at its port', async () => {
    const remote = rules(
      ['10.0.0.0/8', '127.0.0.1'],
      ['postgres://app@platform-db.internal:6432/latchkey', 'postgres:///latchkey?host=/var/run/postgresql&port=5433'],
    );
    await refused(remote, 'db.internal', 6432);
    await refused(remote, '10.0.5.7', 6432);
    await expect(remote.vet('db.internal', 5432)).resolves.toMatchObject({ address: '10.0.5.7' });
    await refused(remote, '127.0.0.1', 5433);
    await expect(remote.vet('127.0.0.1', 5432)).resolves.toMatchObject({ address: '127.0.0.1' });
  });

  it('refuse what is not a host name or an address', async () => {
    for (const host of ['%2Fvar%2Frun', 'a b', 'x/y', '']) await refused(rules(['0.0.0.0/0']), host, 80);
  });
});
