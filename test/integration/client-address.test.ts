// Whose address a request comes from (forwarding headers believed only from TRUSTED_PROXIES), and
// how many unknown credentials one address may present before it is refused without a lookup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateToken } from '../../src/tokens/token-format';
import { metricsOf, startTestApi, type TestApi } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { IssueTokenDocument } from '../generated/graphql';

let plain: TestApi;
let proxied: TestApi;
let t: TenantFixture;
let bound: string;

const viewer = (api: TestApi, token: string, headers: Record<string, string> = {}) =>
  fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query: '{ viewer { id } }' }),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

beforeAll(async () => {
  plain = await startTestApi();
  proxied = await startTestApi({
    TRUSTED_PROXIES: '127.0.0.1/32, ::1',
    AUTH_MISSES_BURST: '5',
    AUTH_MISSES_PER_SECOND: '1',
  });
  t = await newTenant(plain);
  // A control-plane token usable only from 10.0.0.0/8.
  bound = (
    await plain.ok(t.adminToken, IssueTokenDocument, {
      input: { ownerId: t.adminId, name: 'bound', scopes: [], allowedCidrs: ['10.0.0.0/8'] },
    })
  ).issueToken.secret;
});
afterAll(async () => {
  await plain.close();
  await proxied.close();
});

describe('TRUSTED_PROXIES', () => {
  it('without it, forwarding headers are not believed', async () => {
    for (const headers of [{ 'x-forwarded-for': '10.1.1.1' }, { 'x-real-ip': '10.1.1.1' }] as Array<
      Record<string, string>
    >) {
      const r = await viewer(plain, bound, headers);
      expect(r.body.errors?.[0]?.extensions?.code, JSON.stringify(headers)).toBe('UNAUTHENTICATED');
      expect(r.body.errors?.[0]?.message).toMatch(/IP_NOT_ALLOWED/);
    }
  });

  it('from a trusted proxy, the rightmost untrusted hop is the client', async () => {
    expect((await viewer(proxied, bound, { 'x-forwarded-for': '10.1.1.1' })).body.data?.viewer.id).toBe(t.adminId);
    expect((await viewer(proxied, bound, { 'x-forwarded-for': '10.1.1.1, 127.0.0.1' })).body.data?.viewer.id).toBe(
      t.adminId,
    );
    expect((await viewer(proxied, bound, { 'x-real-ip': '10.1.1.1' })).body.data?.viewer.id).toBe(t.adminId);
    // A client cannot pass itself off by putting an allowed address further left.
    expect(
      (await viewer(proxied, bound, { 'x-forwarded-for': '10.1.1.1, 192.0.2.7' })).body.errors?.[0]?.extensions?.code,
    ).toBe('UNAUTHENTICATED');
    expect((await viewer(proxied, bound)).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('unknown credentials per client address', () => {
  it('are looked up at most AUTH_MISSES_BURST times in a burst, then refused with 429 before any lookup', async () => {
    const before = await metricsOf(proxied.url);
    const from = { 'x-forwarded-for': '198.51.100.9' };
    const codes: string[] = [];
    for (let i = 0; i < 12; i++)
      codes.push((await viewer(proxied, generateToken(), from)).body.errors?.[0]?.extensions?.code);
    expect(codes.slice(0, 5)).toEqual(Array(5).fill('UNAUTHENTICATED'));
    expect(codes.slice(6)).toEqual(Array(6).fill('RATE_LIMITED'));
    const pickup = await fetch(`${proxied.url}/v1/tokens/successor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${generateToken()}`, ...from },
    });
    expect(pickup.status).toBe(429);
    expect(Number(pickup.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const after = await metricsOf(proxied.url);
    const reads = (m: (s: string) => number) =>
      m('latchkey_verify_lookups_total{layer="postgres"}') + m('latchkey_verify_lookups_total{layer="redis"}');
    expect(reads(after) - reads(before)).toBeLessThanOrEqual(6);
    expect(
      after('latchkey_auth_misses_limited_total') - before('latchkey_auth_misses_limited_total'),
    ).toBeGreaterThanOrEqual(7);
    // Another address is not affected, and a known token from the limited one is still served from memory.
    expect(
      (await viewer(proxied, generateToken(), { 'x-forwarded-for': '198.51.100.10' })).body.errors?.[0]?.extensions
        ?.code,
    ).toBe('UNAUTHENTICATED');
    await viewer(proxied, t.adminToken); // cached now
    expect((await viewer(proxied, t.adminToken, from)).body.data?.viewer.id).toBe(t.adminId);
  });

  it('a random well-formed secret at the successor door is looked up once, then answered from memory', async () => {
    const secret = generateToken();
    const before = await metricsOf(plain.url);
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${plain.url}/v1/tokens/successor`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}` },
      });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('invalid_token');
    }
    const after = await metricsOf(plain.url);
    expect(
      after('latchkey_verify_lookups_total{layer="postgres"}') -
        before('latchkey_verify_lookups_total{layer="postgres"}'),
    ).toBe(1);
    expect(
      after('latchkey_verify_lookups_total{layer="local_negative"}') -
        before('latchkey_verify_lookups_total{layer="local_negative"}'),
    ).toBe(2);
  });

  it('never refuse a valid token for being cold: only credentials found not to exist spend the budget', async () => {
    // Twenty valid tokens this replica has never seen, presented at once from one address (a
    // gateway after a restart, a dashboard fleet behind one NAT): four times the burst of 5.
    const issued = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        plain.ok(t.adminToken, IssueTokenDocument, {
          input: { ownerId: t.adminId, name: `cold-${i}`, kind: 'CONTROL', scopes: [] },
        }),
      ),
    );
    const from = { 'x-forwarded-for': '198.51.100.20' };
    const answers = await Promise.all(issued.map((x) => viewer(proxied, x.issueToken.secret, from)));
    expect(answers.map((a) => a.body.data?.viewer?.id ?? a.body.errors?.[0]?.extensions?.code)).toEqual(
      Array(20).fill(t.adminId),
    );
    // Unknown ones from the same address still spend it.
    const codes: string[] = [];
    for (let i = 0; i < 8; i++)
      codes.push((await viewer(proxied, generateToken(), from)).body.errors?.[0]?.extensions?.code);
    expect(codes.slice(0, 5)).toEqual(Array(5).fill('UNAUTHENTICATED'));
    expect(codes.at(-1)).toBe('RATE_LIMITED');
  });

  it('a WebSocket connect refused for the address budget closes with 4429 and the wait, not 4403', async () => {
    const from = { 'x-forwarded-for': '198.51.100.30' };
    for (let i = 0; i < 8; i++) await viewer(proxied, generateToken(), from);
    const ws = new WebSocket(`${proxied.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers: from });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${generateToken()}` } })),
    );
    const { code, reason } = await closed;
    expect(code).toBe(4429);
    expect(reason).toMatch(/retry in \d+ s/);
  });
});
