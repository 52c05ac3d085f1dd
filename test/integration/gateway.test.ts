// The gateway path over real HTTP: /v1/verify, forward-auth, RFC 7662 introspection, rate
// limits, IP binding, usage and the verification caches.
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/tokens/token-format';
import { jsonOf, metricsOf, startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newPrincipal, newTenant, roleId, type TenantFixture } from '../helpers/fixtures';
import { CreateOwnerDocument, RevokeTokenDocument, UnassignRoleDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let gateway: string;
let ownerId: string;

beforeAll(async () => {
  // Totals flush every 200 ms; per-day counts only when a test flushes them (or in an hour).
  api = await startTestApi({ USAGE_FLUSH_MS: '200', USAGE_DAILY_FLUSH_MS: '3600000' });
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:sales.summary:read', 'crm:sales.summary:write']);
  gateway = (await newPrincipal(api, t.adminToken, ['gateway'])).token;
  ownerId = (
    await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'dash', allowedScopes: ['crm:sales.summary:read', 'crm:sales.summary:write'] },
    })
  ).createOwner.id;
});
afterAll(() => api.close());

const verifyRest = (token: string, requiredScopes: string[] = [], extra: Record<string, unknown> = {}) =>
  fetch(`${api.url}/v1/verify`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token, requiredScopes, ...extra }),
  });

/** Forward-auth as a route that admits any valid token, unless the headers or query declare scopes. */
const authz = (headers: Record<string, string>, query = '') =>
  fetch(`${api.url}/v1/authz${query}`, {
    headers: { 'x-latchkey-gateway-token': gateway, ...(query ? {} : { 'x-latchkey-scopes': 'any' }), ...headers },
  });

describe('POST /v1/verify', () => {
  it('answers 200 with the verdict, valid or not', async () => {
    const tok = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read']);
    const ok = await verifyRest(tok.secret, ['crm:sales.summary:read']);
    expect(ok.status).toBe(200);
    expect(await jsonOf(ok)).toEqual({
      valid: true,
      failure: null,
      tokenId: tok.id,
      ownerId,
      tenantId: t.tenantId,
      scopes: ['crm:sales.summary:read'],
      expiresAt: null,
      rotationPending: false,
    });
    const bad = await verifyRest(tok.secret, ['crm:sales.summary:write']);
    expect(bad.status).toBe(200);
    expect((await jsonOf(bad)).failure).toBe('INSUFFICIENT_SCOPE');
    expect((await jsonOf(await verifyRest('garbage'))).failure).toBe('MALFORMED');
  });

  it('refuses other methods and oversized bodies with a typed error, and the connection stays usable', async () => {
    expect((await fetch(`${api.url}/v1/verify`, { headers: { authorization: `Bearer ${gateway}` } })).status).toBe(405);
    const tok = await issue(api, t.adminToken, ownerId, []);
    const { port } = new URL(api.url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    const request = (body: string) =>
      `POST /v1/verify HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gateway}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    let received = '';
    socket.setEncoding('utf8').on('data', (d: string) => (received += d));
    const answers = async (n: number) => {
      for (let i = 0; i < 100 && (received.match(/HTTP\/1\.1 /g) ?? []).length < n; i++) await sleep(20);
      return received.split(/(?=HTTP\/1\.1 )/);
    };
    // 100 KB on a keep-alive connection: a 400 naming the limit (before, the socket was reset),
    // then the same connection answers the next request.
    socket.write(request(JSON.stringify({ token: 'x'.repeat(100_000) })));
    socket.write(request(JSON.stringify({ token: tok.secret })));
    const [big, next] = await answers(2);
    expect(big).toMatch(/^HTTP\/1\.1 400 /);
    expect(big).toContain('"code":"BAD_USER_INPUT","message":"the request body is larger than 64 KiB"');
    expect(next).toMatch(/^HTTP\/1\.1 200 /);
    expect(next).toContain(`"valid":true,"failure":null,"tokenId":"${tok.id}"`);
    // A body that arrives in pieces is read whole.
    received = '';
    const body = JSON.stringify({ token: tok.secret });
    const whole = request(body);
    socket.write(whole.slice(0, -body.length + 20));
    await sleep(50);
    socket.write(whole.slice(-body.length + 20));
    const [pieces] = await answers(1);
    expect(pieces).toMatch(/^HTTP\/1\.1 200 /);
    expect(pieces).toContain(`"valid":true,"failure":null,"tokenId":"${tok.id}"`);
    socket.destroy();
  });
});

describe('GET /v1/authz (forward-auth)', () => {
  it('answers 204 with identity headers for a good token, from Authorization or X-Api-Key', async () => {
    const tok = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read']);
    for (const headers of [{ authorization: `Bearer ${tok.secret}` }, { 'x-api-key': tok.secret }] as Array<
      Record<string, string>
    >) {
      const r = await authz({ ...headers, 'x-latchkey-scopes': 'crm:sales.summary:read' });
      expect(r.status).toBe(204);
      expect(r.headers.get('x-latchkey-token-id')).toBe(tok.id);
      expect(r.headers.get('x-latchkey-owner-id')).toBe(ownerId);
      expect(r.headers.get('x-latchkey-tenant-id')).toBe(t.tenantId);
      expect(r.headers.get('x-latchkey-scopes')).toBe('crm:sales.summary:read');
    }
    const viaQuery = await authz({ authorization: `Bearer ${tok.secret}` }, '?scope=crm:sales.summary:read');
    expect(viaQuery.status).toBe(204);
  });

  it('answers 401 with RFC 6750 WWW-Authenticate when the token is missing or invalid', async () => {
    const missing = await authz({});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="latchkey"');
    const unknown = await authz({ authorization: `Bearer ${generateToken()}` });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="latchkey", error="invalid_token", error_description="the token is not found"$/,
    );
    const tok = await issue(api, t.adminToken, ownerId, []);
    await api.ok(t.adminToken, RevokeTokenDocument, { id: tok.id, reason: 'x' });
    const revoked = await authz({ authorization: `Bearer ${tok.secret}` });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toContain('the token is revoked');
  });

  it('answers 403 insufficient_scope naming the scope', async () => {
    const tok = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read']);
    const r = await authz({ authorization: `Bearer ${tok.secret}`, 'x-latchkey-scopes': 'crm:sales.summary:write' });
    expect(r.status).toBe(403);
    expect(r.headers.get('www-authenticate')).toBe(
      'Bearer realm="latchkey", error="insufficient_scope", scope="crm:sales.summary:write"',
    );
  });

  it('refuses a route that declares no scopes instead of admitting any token, and counts it', async () => {
    const tok = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read']);
    const before = (await metricsOf(api.url))('latchkey_gateway_misconfigured_total{reason="no_scopes_declared"}');
    for (const scopes of ['', ' , ', 'any crm:sales.summary:read']) {
      const r = await fetch(`${api.url}/v1/authz`, {
        headers: {
          'x-latchkey-gateway-token': gateway,
          authorization: `Bearer ${tok.secret}`,
          'x-latchkey-scopes': scopes,
        },
      });
      expect(r.status, JSON.stringify(scopes)).toBe(500);
      expect((await jsonOf(r)).error.code).toBe('GATEWAY_MISCONFIGURED');
    }
    const none = await fetch(`${api.url}/v1/authz`, {
      headers: { 'x-latchkey-gateway-token': gateway, authorization: `Bearer ${tok.secret}` },
    });
    expect(none.status).toBe(500);
    expect((await metricsOf(api.url))('latchkey_gateway_misconfigured_total{reason="no_scopes_declared"}')).toBe(
      before + 4,
    );
    // Said explicitly, any valid token of the tenant passes.
    expect((await authz({ authorization: `Bearer ${tok.secret}`, 'x-latchkey-scopes': 'any' })).status).toBe(204);
    expect((await authz({ authorization: `Bearer ${tok.secret}` }, '?scope=any')).status).toBe(204);
  });

  it('treats a missing or powerless gateway credential as a misconfiguration, not the user’s fault', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    const none = await fetch(`${api.url}/v1/authz`, { headers: { authorization: `Bearer ${tok.secret}` } });
    expect(none.status).toBe(500);
    const auditor = (await newPrincipal(api, t.adminToken, ['auditor'])).token;
    const weak = await fetch(`${api.url}/v1/authz`, {
      headers: { authorization: `Bearer ${tok.secret}`, 'x-latchkey-gateway-token': auditor },
    });
    expect(weak.status).toBe(500);
  });
});

describe('POST /oauth2/introspect (RFC 7662)', () => {
  const introspect = (body: string, auth = `Bearer ${gateway}`) =>
    fetch(`${api.url}/oauth2/introspect`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });

  it('describes an active token as the RFC says', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000);
    const tok = await issue(api, t.adminToken, ownerId, ['crm:sales.summary:read', 'crm:sales.summary:write'], {
      expiresAt: expiresAt.toISOString(),
    });
    const r = await introspect(new URLSearchParams({ token: tok.secret, token_type_hint: 'access_token' }).toString());
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const body = await jsonOf(r);
    expect(body).toMatchObject({
      active: true,
      scope: 'crm:sales.summary:read crm:sales.summary:write',
      client_id: tok.id,
      sub: ownerId,
      token_type: 'Bearer',
    });
    expect(body.exp).toBe(Math.floor(expiresAt.getTime() / 1000));
    expect(Math.abs(body.iat - Date.now() / 1000)).toBeLessThan(60);
    expect(Number.isInteger(body.iat)).toBe(true);
  });

  it('answers only {"active":false} for anything not valid', async () => {
    const revoked = await issue(api, t.adminToken, ownerId, []);
    await api.ok(t.adminToken, RevokeTokenDocument, { id: revoked.id, reason: 'x' });
    // RFC 7662 carries no client address, so a token bound to networks cannot be shown valid.
    const bound = await issue(api, t.adminToken, ownerId, [], { allowedCidrs: ['0.0.0.0/0', '::/0'] });
    for (const token of ['nonsense', generateToken(), revoked.secret, bound.secret]) {
      const r = await introspect(new URLSearchParams({ token }).toString());
      expect(r.status).toBe(200);
      expect(await jsonOf(r)).toEqual({ active: false });
    }
  });

  it('accepts HTTP Basic with the gateway token as the password, and refuses anonymous callers', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    const basic = `Basic ${Buffer.from(`gateway:${gateway}`).toString('base64')}`;
    expect((await jsonOf(await introspect(`token=${tok.secret}`, basic))).active).toBe(true);
    const anonymous = await fetch(`${api.url}/oauth2/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${tok.secret}`,
    });
    expect(anonymous.status).toBe(401);
    expect((await introspect('')).status).toBe(400);
  });
});

describe('rate limits', () => {
  it('200 parallel verifications against a limit of 50: exactly 50 succeed', async () => {
    const tok = await issue(api, t.adminToken, ownerId, [], { rateLimit: { requests: 50, per: 'PT1M' } });
    const answers = await Promise.all(Array.from({ length: 200 }, () => verifyRest(tok.secret).then(jsonOf)));
    expect(answers.filter((a) => a.valid)).toHaveLength(50);
    const limited = answers.filter((a) => a.failure === 'RATE_LIMITED');
    expect(limited).toHaveLength(150);
    for (const a of limited) expect(a.retryAfter).toBeGreaterThan(0);
    const r = await authz({ authorization: `Bearer ${tok.secret}` });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('counts aliased verifyToken calls one by one', async () => {
    const tok = await issue(api, t.adminToken, ownerId, [], { rateLimit: { requests: 3, per: 'PT1M' } });
    const q = `query($s: String!) { ${Array.from({ length: 5 }, (_, i) => `v${i}: verifyToken(secret: $s) { valid failure }`).join(' ')} }`;
    const data = await api.ok(gateway, q, { s: tok.secret });
    const results = Object.values(data) as Array<{ valid: boolean; failure: string }>;
    expect(results.filter((r) => r.valid)).toHaveLength(3);
    expect(results.filter((r) => r.failure === 'RATE_LIMITED')).toHaveLength(2);
  });

  it('takes the policy limit when the token has none', async () => {
    const { createRotationPolicy } = await api.ok(
      t.adminToken,
      `mutation { createRotationPolicy(input: { name: "limited", gracePeriod: "PT1H", rateLimit: { requests: 2, per: "PT1M" } }) { id rateLimit { requests per } } }`,
    );
    expect(createRotationPolicy.rateLimit).toEqual({ requests: 2, per: 'PT1M' });
    const tok = await issue(api, t.adminToken, ownerId, [], { rotationPolicyId: createRotationPolicy.id });
    const results = [];
    for (let i = 0; i < 3; i++) results.push((await jsonOf(await verifyRest(tok.secret))).failure);
    expect(results).toEqual([null, null, 'RATE_LIMITED']);
  });
});

describe('IP binding', () => {
  it('verifies only from the allowed networks, and audits a refusal', async () => {
    const tok = await issue(api, t.adminToken, ownerId, [], { allowedCidrs: ['10.0.0.0/8', '2001:db8::/32'] });
    expect((await jsonOf(await verifyRest(tok.secret, [], { clientIp: '10.1.2.3' }))).valid).toBe(true);
    expect((await jsonOf(await verifyRest(tok.secret, [], { clientIp: '2001:db8::1' }))).valid).toBe(true);
    expect((await jsonOf(await verifyRest(tok.secret, [], { clientIp: '192.168.1.1' }))).failure).toBe(
      'IP_NOT_ALLOWED',
    );
    expect((await jsonOf(await verifyRest(tok.secret))).failure).toBe('IP_NOT_ALLOWED');
    const fwd = await authz({ authorization: `Bearer ${tok.secret}`, 'x-forwarded-for': '10.9.9.9, 203.0.113.7' });
    expect(fwd.status).toBe(403);
    const real = await authz({ authorization: `Bearer ${tok.secret}`, 'x-real-ip': '10.9.9.9' });
    expect(real.status).toBe(204);
    // The refusal is audited once a minute per token (written off the response's path), with the
    // first refused address: the address is the gateway's word, so a key per address would let a
    // gateway write an event per address it makes up.
    const rejected = async () =>
      (
        await api.sql(
          `SELECT coalesce(data->>'clientIp', 'none') AS ip FROM audit_events WHERE target_id = $1 AND action = 'TOKEN_ADDRESS_REJECTED'`,
          [tok.id],
        )
      ).map((r) => r.ip);
    await expect.poll(rejected).toEqual(['192.168.1.1']);
    for (let i = 0; i < 50; i++) await verifyRest(tok.secret, [], { clientIp: `192.0.2.${i + 1}` });
    await new Promise((r) => setTimeout(r, 300));
    expect(await rejected()).toEqual(['192.168.1.1']);
  });

  it('refuses malformed networks', async () => {
    const r = await api.gql(
      t.adminToken,
      `mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "x", scopes: [], allowedCidrs: ["10.0.0.0/33"] }) { secret } }`,
      { o: ownerId },
    );
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('usage', () => {
  /** A token's total and its per-day counts from `from` until now. */
  const usageOf = async (id: string, from: number) =>
    (
      await api.ok(
        t.adminToken,
        `query($id: ID!, $from: DateTime!, $to: DateTime!) { token(id: $id) { usageCount usage(from: $from, to: $to) { day count } } }`,
        {
          id,
          from: new Date(from).toISOString(),
          to: new Date().toISOString(),
        },
      )
    ).token;

  it('aggregates in memory and flushes counts, last use, addresses and days in batches', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    for (let i = 0; i < 7; i++) await verifyRest(tok.secret, [], { clientIp: `10.0.0.${i % 3}` });
    await api.container.services.usage.flush();
    const today = new Date().toISOString().slice(0, 10);
    const { token } = await api.ok(
      t.adminToken,
      `query($id: ID!, $from: DateTime!, $to: DateTime!) { token(id: $id) { usageCount lastUsedAt lastClientIps usage(from: $from, to: $to) { day count } } }`,
      { id: tok.id, from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date().toISOString() },
    );
    expect(token.usageCount).toBe(7);
    expect(Date.now() - Date.parse(token.lastUsedAt)).toBeLessThan(10_000);
    expect(token.lastClientIps).toEqual(['10.0.0.0', '10.0.0.2', '10.0.0.1']);
    expect(token.usage).toEqual([{ day: today, count: 7 }]);

    // Later flushes add to the row: without addresses they keep the list, with one they put it first.
    const again = async () =>
      (await api.ok(t.adminToken, `query($id: ID!) { token(id: $id) { usageCount lastClientIps } }`, { id: tok.id }))
        .token;
    await verifyRest(tok.secret);
    await verifyRest(tok.secret);
    await api.container.services.usage.flush();
    expect(await again()).toEqual({ usageCount: 9, lastClientIps: ['10.0.0.0', '10.0.0.2', '10.0.0.1'] });
    await verifyRest(tok.secret, [], { clientIp: '10.0.0.9' });
    await api.container.services.usage.flush();
    expect(await again()).toEqual({ usageCount: 10, lastClientIps: ['10.0.0.9', '10.0.0.0', '10.0.0.2', '10.0.0.1'] });
    // The same list again is kept as it is; a list another replica wrote is merged with this one's.
    await verifyRest(tok.secret, [], { clientIp: '10.0.0.9' });
    await api.container.services.usage.flush();
    expect(await again()).toEqual({ usageCount: 11, lastClientIps: ['10.0.0.9', '10.0.0.0', '10.0.0.2', '10.0.0.1'] });
    await api.sql(`UPDATE token_usage SET last_client_ips = '{10.7.7.7,10.0.0.2}' WHERE token_id = $1`, [tok.id]);
    await verifyRest(tok.secret, [], { clientIp: '10.0.0.9' });
    await api.container.services.usage.flush();
    expect(await again()).toEqual({
      usageCount: 12,
      lastClientIps: ['10.0.0.9', '10.0.0.0', '10.0.0.2', '10.0.0.1', '10.7.7.7'],
    });
  });

  it('counts uses on either side of midnight on their own days, in one flush', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    const other = await issue(api, t.adminToken, ownerId, []);
    const usage = api.container.services.usage;
    const today = new Date().toISOString().slice(0, 10);
    const midnight = Date.parse(`${today}T00:00:00Z`);
    const yesterday = new Date(midnight - 1).toISOString().slice(0, 10);
    usage.record(tok.id, t.tenantId, null, midnight - 2_000);
    usage.record(tok.id, t.tenantId, null, midnight - 1_000);
    usage.record(tok.id, t.tenantId, null, midnight + 1_000);
    usage.record(other.id, t.tenantId, null, midnight + 2_000);
    await usage.flush();
    const read = (id: string) => usageOf(id, midnight - 2 * 86_400_000);
    expect(await read(tok.id)).toEqual({
      usageCount: 3,
      usage: [
        { day: yesterday, count: 2 },
        { day: today, count: 1 },
      ],
    });
    expect(await read(other.id)).toEqual({ usageCount: 1, usage: [{ day: today, count: 1 }] });
  });

  it('writes the per-day counts less often than the totals, and keeps them until they are written', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    const today = new Date().toISOString().slice(0, 10);
    const read = () => usageOf(tok.id, Date.now() - 86_400_000);
    for (let i = 0; i < 3; i++) await verifyRest(tok.secret);
    // The 200 ms flushes write the total, and not the day.
    await expect.poll(read).toEqual({ usageCount: 3, usage: [] });
    // Flushes that find the token unused (more than the few after which an idle counter is
    // dropped) must keep its unwritten day. Another token's uses make those flushes run.
    const other = await issue(api, t.adminToken, ownerId, []);
    for (let i = 0; i < 10; i++) await Promise.all([verifyRest(other.secret), sleep(150)]);
    expect(await read()).toEqual({ usageCount: 3, usage: [] });
    // A flush of everything, asked for while a flush of totals runs and another waits to start,
    // does not settle for the waiting one: it writes the day, once.
    const usage = api.container.services.usage;
    await verifyRest(tok.secret);
    await Promise.all([usage.flush({ daily: false }), usage.flush({ daily: false }), usage.flush()]);
    expect(await read()).toEqual({ usageCount: 4, usage: [{ day: today, count: 4 }] });
    await usage.flush();
    expect(await read()).toEqual({ usageCount: 4, usage: [{ day: today, count: 4 }] });
  });

  it('lists dormant tokens', async () => {
    const used = await issue(api, t.adminToken, ownerId, [], { labels: { dormancy: 'test' } });
    const idle = await issue(api, t.adminToken, ownerId, [], { labels: { dormancy: 'test' } });
    await api.sql(`UPDATE tokens SET created_at = now() - interval '100 days' WHERE id = ANY($1)`, [
      [used.id, idle.id],
    ]);
    await verifyRest(used.secret);
    await api.container.services.usage.flush();
    const { dormantTokens } = await api.ok(
      t.adminToken,
      `{ dormantTokens(unusedFor: "P90D", first: 100) { edges { node { id } } } }`,
    );
    const ids = dormantTokens.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(ids).toContain(idle.id);
    expect(ids).not.toContain(used.id);
  });
});

describe('caches and invalidation', () => {
  it('serves repeat verifications from memory and reports the layers in /metrics', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    for (let i = 0; i < 5; i++) await verifyRest(tok.secret);
    // A change of its own, so that the invalidation counter does not depend on the tests before.
    await api.ok(t.adminToken, RevokeTokenDocument, { id: tok.id, reason: 'metrics' });
    const metrics = async () => (await fetch(`${api.url}/metrics`)).text();
    // The invalidation arrives over Redis pub/sub, a moment after the mutation returns.
    await expect.poll(metrics).toMatch(/latchkey_invalidations_total\{kind="tokens"\} [1-9]/);
    const text = await metrics();
    expect(text).toMatch(/latchkey_verify_lookups_total\{layer="local"\} [1-9]/);
    expect(text).toMatch(/latchkey_verify_lookups_total\{layer="postgres"\} [1-9]/);
    expect(text).toMatch(/latchkey_verifications_total\{result="VALID"\} [1-9]/);
    expect(text).toContain('latchkey_usage_flush_lag_seconds');
  });

  it('reads busy entries again before they expire, in the background, so that no request waits for a read', async () => {
    const ttl = 3_000;
    const short = await startTestApi({ VERIFY_CACHE_TTL_MS: String(ttl) });
    try {
      const st = await newTenant(short);
      const gw = (await newPrincipal(short, st.adminToken, ['gateway'])).token;
      const owner = (await short.ok(st.adminToken, CreateOwnerDocument, { input: { kind: 'SERVICE', name: 'busy' } }))
        .createOwner.id;
      const tok = await issue(short, st.adminToken, owner, []);
      const call = async () =>
        jsonOf(
          await fetch(`${short.url}/v1/verify`, {
            method: 'POST',
            headers: { authorization: `Bearer ${gw}` },
            body: JSON.stringify({ token: tok.secret }),
          }),
        );
      expect((await call()).valid).toBe(true); // fills the entries of the gateway's credential and of the token
      const before = await metricsOf(short.url);
      let n = 0;
      for (const started = Date.now(); Date.now() - started < 2.3 * ttl; n++) {
        expect((await call()).valid).toBe(true);
        await sleep(25);
      }
      const after = await metricsOf(short.url);
      const delta = (series: string) => after(series) - before(series);
      // Over two lifetimes of an entry, both lookups of every request were answered from memory
      // (without re-reads, each entry was missed once per lifetime), and both entries were read
      // again at least twice meanwhile.
      expect(delta('latchkey_verify_lookups_total{layer="local"}')).toBe(2 * n);
      expect(delta('latchkey_verify_cache_renewals_total')).toBeGreaterThanOrEqual(4);
    } finally {
      await short.close();
    }
  });

  it('a revocation is seen at once through every layer', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    expect((await jsonOf(await verifyRest(tok.secret))).valid).toBe(true);
    await api.ok(t.adminToken, RevokeTokenDocument, { id: tok.id, reason: 'x' });
    expect((await jsonOf(await verifyRest(tok.secret))).failure).toBe('REVOKED');
  });

  it('a change nobody announced (the writer died after commit) is still seen within seconds', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    expect((await jsonOf(await verifyRest(tok.secret))).valid).toBe(true);
    const started = Date.now();
    // A revocation written behind the API's back: no pub/sub message, no Redis delete.
    await api.sql(`UPDATE token_secrets SET state = 'REVOKED', ended_at = now() WHERE token_id = $1`, [tok.id]);
    await api.sql(`UPDATE tokens SET status = 'REVOKED', revoked_at = now(), updated_at = now() WHERE id = $1`, [
      tok.id,
    ]);
    await expect
      .poll(async () => (await jsonOf(await verifyRest(tok.secret))).failure, { timeout: 5_000, interval: 50 })
      .toBe('REVOKED');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a burst of requests for a secret not cached yet makes one read', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    const fills = async () => {
      const read = await metricsOf(api.url);
      return (
        read('latchkey_verify_lookups_total{layer="redis"}') + read('latchkey_verify_lookups_total{layer="postgres"}')
      );
    };
    const before = await fills();
    const answers = await Promise.all(Array.from({ length: 30 }, () => verifyRest(tok.secret).then(jsonOf)));
    expect(answers.map((a) => a.valid)).toEqual(Array(30).fill(true));
    expect((await fills()) - before).toBe(1);
  });

  it('a fill begun before a revocation neither answers a request made after it nor writes a live entry', async () => {
    const tok = await issue(api, t.adminToken, ownerId, []);
    const { verifier } = api.container.services;
    // Hold the first fill's database read until the revocation has committed, been announced, and
    // been answered to a request made after it.
    const held = holdFirstLookup();
    try {
      const inflight = verifier.verify(tok.secret, [], t.tenantId);
      await held.started;
      await api.ok(t.adminToken, RevokeTokenDocument, { id: tok.id, reason: 'race' });
      const after = await Promise.race([verifier.verify(tok.secret, [], t.tenantId), sleep(3_000, 'waited' as const)]);
      expect(after === 'waited' ? after : after.failure).toBe('REVOKED');
      held.release();
      // The in-flight answer may be the old one: it was decided on what it read.
      await inflight;
    } finally {
      held.release();
      held.restore();
    }
    expect((await verifier.verify(tok.secret, [], t.tenantId)).failure).toBe('REVOKED');
    await expectNoLiveEntry(tok.id);
  });

  /** Holds the first verification lookup from now (a prepared statement on the pool) after it has read, until released. */
  function holdFirstLookup() {
    const pool = (api.container.ds.driver as unknown as { master: { query: (...args: unknown[]) => Promise<unknown> } })
      .master;
    const original = pool.query;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let readStarted!: () => void;
    const started = new Promise<void>((r) => (readStarted = r));
    let held = false;
    pool.query = async function (this: unknown, ...args: unknown[]) {
      const result = await original.apply(this, args);
      if ((args[0] as { name?: string } | undefined)?.name === 'latchkey_verify_lookup' && !held) {
        held = true;
        readStarted();
        await gate;
      }
      return result;
    };
    return { started, release, restore: () => (pool.query = original) };
  }

  /** No Redis entry of the token says it is still good. */
  async function expectNoLiveEntry(tokenId: string): Promise<void> {
    const cached = await api.container.redis.keys(`${api.container.config.redisPrefix}:vc2:*`);
    for (const key of cached) {
      const entry = JSON.parse((await api.container.redis.get(key)) ?? '{}');
      if (entry.record?.tokenId === tokenId) expect(entry.record.tokenStatus).toBe('REVOKED');
    }
  }
});

describe("the gateway's own permissions", () => {
  // A gateway's requests all carry its credential, so all of them need its owner's permissions.
  let fast: TestApi;
  let ft: TenantFixture;
  let gw: { ownerId: string; token: string };
  let secret: string;
  const TTL = 2_000;

  beforeAll(async () => {
    fast = await startTestApi({ PERMISSIONS_CACHE_TTL_MS: String(TTL) });
    ft = await newTenant(fast);
    gw = await newPrincipal(fast, ft.adminToken, ['gateway']);
    secret = (await issue(fast, ft.adminToken, gw.ownerId, [])).secret;
  });
  afterAll(() => fast.close());

  const verifyAs = (credential: string) =>
    fetch(`${fast.url}/v1/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token: secret }),
    });

  /** Counts the reads of the gateway's permissions, and can hold the next one after it has read. */
  function watchReads() {
    const roles = fast.container.services.roles;
    const original = roles.permissionsOf;
    const w = { reads: 0, hold: null as Promise<void> | null, restore: () => (roles.permissionsOf = original) };
    roles.permissionsOf = async function (this: unknown, ...args: Parameters<typeof original>) {
      if (args[1] !== gw.ownerId) return original.apply(this, args);
      w.reads++;
      const value = await original.apply(this, args);
      const hold = w.hold;
      w.hold = null;
      if (hold) await hold;
      return value;
    } as typeof original;
    return w;
  }

  it('are read once for a burst of requests, and reloaded before they expire without a request waiting', async () => {
    expect((await verifyAs(gw.token)).status).toBe(200);
    const w = watchReads();
    try {
      await sleep(TTL + 100);
      const burst = await Promise.all(Array.from({ length: 50 }, () => verifyAs(gw.token)));
      expect(burst.map((r) => r.status)).toEqual(Array(50).fill(200));
      expect(w.reads).toBe(1);

      // Past half their time: answered from memory while one reload runs, held here until released.
      await sleep(TTL * 0.6);
      let release!: () => void;
      w.hold = new Promise((r) => (release = r));
      const answers = await Promise.all(Array.from({ length: 20 }, () => verifyAs(gw.token)));
      expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(w.reads).toBe(2);
      release();
    } finally {
      w.restore();
    }
  });

  it('are read again after a role change, not taken from a read that began before it', async () => {
    expect((await verifyAs(gw.token)).status).toBe(200);
    const w = watchReads();
    let release!: () => void;
    try {
      await sleep(TTL + 100);
      // This request's read sees the gateway role and is held until after the role is gone.
      w.hold = new Promise((r) => (release = r));
      const before = verifyAs(gw.token);
      await expect.poll(() => w.reads).toBe(1);
      const changed = new Promise<void>((resolve) => {
        const stop = fast.container.services.bus.listen((msg) => {
          if (msg.kind !== 'permissions') return;
          stop();
          resolve();
        });
      });
      await fast.ok(ft.adminToken, UnassignRoleDocument, {
        ownerId: gw.ownerId,
        roleId: await roleId(fast, ft.adminToken, 'gateway'),
      });
      await changed;
      const after = await Promise.race([verifyAs(gw.token), sleep(3_000, 'waited for the old read' as const)]);
      expect(after === 'waited for the old read' ? after : after.status).toBe(403);
      expect(w.reads).toBe(2);
      release();
      expect((await before).status).toBe(200); // decided on what it read
    } finally {
      release?.();
      w.restore();
    }
  });
});
