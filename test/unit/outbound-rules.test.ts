// The outbound address rules on their own, with a resolver of the test's own (no DNS query leaves
// this machine, no connection is made): address forms, allow-list entries, Latchkey's own
// endpoints, connection URLs, failure categories, fair shares.
import { describe, expect, it } from 'vitest';
import { AddressRules, OutboundRefused } from '../../src/outbound/address-rules';
import { normalize, type Resolve } from '../../src/outbound/addresses';
import { parsePostgresUrl, parseRedisUrl } from '../../src/outbound/connection-urls';
import { DeadlineExceeded } from '../../src/outbound/deadline';
import { categoryOf } from '../../src/outbound/failure';
import { endpointOf, PlatformEndpoints } from '../../src/outbound/platform-endpoints';
import { TenantSlots } from '../../src/outbound/tenant-slots';
import { loadConfig } from '../../src/platform/config';

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
const onThisHost = (a: string) => a.startsWith('127.') || a === '::1' || a === '0.0.0.0' || a === '::' || a === '192.0.2.10';
const rules = (allow: string[], platform = ['postgres://postgres@127.0.0.1:5432/latchkey', 'redis://localhost:6379']) =>
  new AddressRules(allow, new PlatformEndpoints(platform.map(endpointOf), resolve, onThisHost), resolve);
const refused = (r: AddressRules, host: string, port: number) => expect(r.vet(host, port), `${host}:${port}`).rejects.toBeInstanceOf(OutboundRefused);

describe('address forms', () => {
  it('judges an IPv4-mapped address as the IPv4 address it carries, and IPv6 in its canonical form', () => {
    expect(['::ffff:127.0.0.1', '[::ffff:7f00:1]', '0:0:0:0:0:ffff:7f00:1', '::FFFF:10.1.2.3'].map(normalize)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '10.1.2.3']);
    expect(['FD00:EC2:0::254', '0:0:0:0:0:0:0:1', 'fe80::1%eth0'].map(normalize)).toEqual(['fd00:ec2::254', '::1', 'fe80::1']);
  });
});

describe('the address rules', () => {
  it('refuse special addresses unless an entry lists them: an address, a network, a host, with or without a port', async () => {
    const strict = rules([]);
    for (const host of ['127.0.0.1', '10.1.2.3', '[::1]', '[fc00::1]', '[fe80::1]', '0.0.0.0', '100.64.0.1', 'db.internal', 'rebind.example', '[::ffff:10.1.2.3]', '[2002:7f00:1::1]',
      // IPv4 inside IPv6 by translation, NAT64 for local use, Teredo, site-local.
      '[::ffff:0:7f00:1]', '[::ffff:0:0:7f00:1]', '[64:ff9b:1::7f00:1]', '[2001:0:4136:e378:8000:63bf:80ff:fffe]', '[2001::1]', '[fec0::1]']) await refused(strict, host, 6380);
    await expect(strict.vet('public.example', 443)).resolves.toMatchObject({ address: '93.184.216.34' });
    await expect(rules(['10.0.0.0/8']).vet('db.internal', 5432)).resolves.toMatchObject({ address: '10.0.5.7' });
    await expect(rules(['db.internal']).vet('db.internal', 5432)).resolves.toMatchObject({ address: '10.0.5.7' });
    await expect(rules(['db.internal:5432']).vet('db.internal', 5432)).resolves.toMatchObject({ address: '10.0.5.7' });
    await refused(rules(['db.internal:5432']), 'db.internal', 6379);
    await expect(rules(['127.0.0.1:6380']).vet('127.0.0.1', 6380)).resolves.toMatchObject({ address: '127.0.0.1' });
    await refused(rules(['127.0.0.1:6380']), '127.0.0.1', 6381);
    await expect(rules(['[::1]:6380']).vet('[::1]', 6380)).resolves.toMatchObject({ address: '::1' });
    await expect(rules(['::ffff:10.0.0.0/104']).vet('db.internal', 5432)).resolves.toMatchObject({ address: '10.0.5.7' });
  });

  it('refuse metadata endpoints whatever the allow list says', async () => {
    const open = rules(['169.254.0.0/16', 'fd00::/8', '169.254.169.254', '100.64.0.0/10']);
    for (const host of ['169.254.169.254', '[fd00:ec2::254]', '[fd00:ec2:0::254]', '[::ffff:169.254.169.254]', '169.254.170.2', '100.100.100.200']) await refused(open, host, 80);
  });

  it('refuse Latchkey’s own Postgres and Redis in every form of this host, whatever the allow list says, and other ports of it when allowed', async () => {
    const open = rules(['127.0.0.0/8', '::1', '0.0.0.0', '::', 'localhost', '192.0.2.10']);
    for (const port of [5432, 6379]) {
      for (const host of ['127.0.0.1', '127.1.2.3', '[::1]', '0.0.0.0', '[::]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '192.0.2.10']) await refused(open, host, port);
    }
    await expect(open.vet('127.0.0.1', 6380)).resolves.toMatchObject({ address: '127.0.0.1' });
  });

  it('refuse a platform endpoint elsewhere by its resolved address and port, and a Unix-socket DATABASE_URL on this host at its port', async () => {
    const remote = rules(['10.0.0.0/8', '127.0.0.1'], ['postgres://app@platform-db.internal:6432/latchkey', 'postgres:///latchkey?host=/var/run/postgresql&port=5433']);
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

describe('connection URLs', () => {
  it('take a host, a user, a database and the TLS mode, keeping the server name for SNI', () => {
    expect(parsePostgresUrl('postgres://app:p%40ss@db.example:6543/sales?sslmode=verify-full')).toMatchObject({ host: 'db.example', port: 6543, user: 'app', password: 'p@ss', database: 'sales', tls: { rejectUnauthorized: true, servername: 'db.example' } });
    expect(parsePostgresUrl('postgresql://app@[::1]/')).toMatchObject({ host: '::1', port: 5432, database: 'app', tls: false });
    expect(parseRedisUrl('rediss://u:p@cache.example/2')).toMatchObject({ host: 'cache.example', port: 6379, username: 'u', password: 'p', db: 2, tls: { servername: 'cache.example' } });
  });

  it('refuse sockets, other hosts and files named in parameters, and any Redis parameter', () => {
    for (const url of [
      'postgres://u@h/db?host=/tmp', 'postgres://u@h/db?hostaddr=10.0.0.1', 'postgres://u@h/db?sslrootcert=/etc/passwd', 'postgres://u@h/db?sslkey=/k',
      'postgres://u@h/db?sslcert=/c', 'postgres://u@h/db?passfile=/p', 'postgres://u@h/db?service=s', 'postgres://u@%2Ftmp/db', 'postgres:///db',
      'postgres://h/db', 'postgres://u@h/db?sslmode=sometimes', 'mysql://u@h/db', 'not a url',
    ]) expect(() => parsePostgresUrl(url), url).toThrow(OutboundRefused);
    for (const url of ['redis:///tmp/redis.sock', 'redis://h?path=/tmp/s', 'rediss://h?ca=/k', 'redis://h/not-a-db', 'unix:///tmp/s', 'redis://u:p@%2Ftmp']) {
      expect(() => parseRedisUrl(url), url).toThrow(OutboundRefused);
    }
  });
});

describe('failure categories', () => {
  it('say a refused login, an unreachable server, a refusal by the rules, or a failure, never more', () => {
    expect(categoryOf(Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' }), false)).toBe('authentication failed');
    expect(categoryOf(Object.assign(new Error('role "x" does not exist'), { code: '28000' }), false)).toBe('authentication failed');
    expect(categoryOf(new Error('WRONGPASS invalid username-password pair or user is disabled.'), false)).toBe('authentication failed');
    expect(categoryOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), false)).toBe('unreachable');
    expect(categoryOf(new DeadlineExceeded(10), true)).toBe('unreachable');
    expect(categoryOf(new Error('Received unexpected byte'), false)).toBe('unreachable');
    expect(categoryOf(new OutboundRefused('no'), false)).toBe('refused by address rules');
    expect(categoryOf(Object.assign(new Error('role "ghost" does not exist'), { code: '42704' }), true)).toBe('failed');
  });
});

describe('fair shares', () => {
  it('let a tenant hold at most its share of slots, and give them back', () => {
    const slots = new TenantSlots(2);
    expect([slots.take('a'), slots.take('a'), slots.take('a'), slots.take('b')]).toEqual([true, true, false, true]);
    slots.give('a');
    expect(slots.take('a')).toBe(true);
  });
});

describe('configuration', () => {
  it('reads ROTATOR_ALLOW entries, the deadline (WEBHOOK_TIMEOUT_MS being its former name) and the share, naming a bad entry', () => {
    const c = loadConfig({ LATCHKEY_DATA_DIR: '/tmp/lk-outbound-config', ROTATOR_ALLOW: 'db.internal:5432, 10.0.0.0/8,[::1]:6380,127.0.0.1' });
    expect(c.rotators.allow).toEqual(['db.internal:5432', '10.0.0.0/8', '[::1]:6380', '127.0.0.1']);
    expect(c.outbound).toEqual({ deadlineMs: 10_000, tenantSlots: 4 });
    expect(loadConfig({ LATCHKEY_DATA_DIR: '/tmp/lk-outbound-config', WEBHOOK_TIMEOUT_MS: '2500' }).outbound.deadlineMs).toBe(2_500);
    expect(() => loadConfig({ LATCHKEY_DATA_DIR: '/tmp/lk-outbound-config', ROTATOR_ALLOW: '10.0.0.0/33,db:99999' })).toThrow(/ROTATOR_ALLOW: "10.0.0.0\/33"[\s\S]*ROTATOR_ALLOW: "db:99999"/);
  });
});
