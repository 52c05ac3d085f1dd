// GraphQL hardening: limits on depth, aliases and cost; CSRF prevention; no mutations over GET;
// no introspection or suggestions in production; no internals in any error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, jsonOf } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { CreateCredentialDocument, CreateRoleDocument } from '../generated/graphql';

let api: TestApi;
let prod: TestApi;
let t: TenantFixture;

beforeAll(async () => {
  api = await startTestApi();
  prod = await startTestApi({ NODE_ENV: 'production' });
  t = await newTenant(api);
});
afterAll(async () => {
  await api.close();
  await prod.close();
});

const codeOf = (r: { errors?: Array<{ extensions?: { code?: string } }> }) => r.errors?.[0]?.extensions?.code;

describe('operation limits', () => {
  // The schema has no cycles deeper than six levels today; the limit guards what comes next,
  // so the depth test lowers it.
  it('accepts the deepest query the schema allows under the default limits', async () => {
    const r = await api.gql(
      t.adminToken,
      `{ tokens { edges { node { owner { allowedScopes { name } roles { name } } scopes { name } secrets { hint } rotationPolicy { name } } } } }`,
    );
    expect(r.errors).toBeUndefined();
  });

  it('counts depth through fragments', async () => {
    const limitedApi = await startTestApi({ GRAPHQL_MAX_DEPTH: '4' });
    try {
      const q = `query { ...A } fragment A on Query { tokens { edges { node { owner { name } } } } }`; // depth 5
      const r = await limitedApi.gql(t.adminToken, q);
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.message).toMatch(/5 levels deep; the limit is 4/);
      expect((await limitedApi.gql(t.adminToken, `{ tokens { edges { node { name } } } }`)).errors).toBeUndefined();
    } finally {
      await limitedApi.close();
    }
  });

  it('refuses too many aliases: batched verifyToken calls count one by one', async () => {
    const calls = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => `v${i}: verifyToken(secret: "lk_x") { valid }`).join(' ')} }`;
    expect((await api.gql(t.adminToken, calls(30))).errors).toBeUndefined();
    const r = await api.gql(t.adminToken, calls(31));
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/31 aliases/);
  });

  it('refuses an operation whose estimated cost is too high', async () => {
    const q = `{ ${Array.from({ length: 5 }, (_, i) => `t${i}: tokens(first: 100) { edges { node { id name owner { name } scopes { name } secrets { hint } } } }`).join(' ')} }`;
    const r = await api.gql(t.adminToken, q);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/estimated cost/);
  });

  it('measures fragments that spread each other twice per level once each: the estimate is exact and validation finishes', async () => {
    // F0 costs 1; each Fi spreads F(i-1) twice, so the operation costs 2^40, and a rule that walked
    // every spread would take days. With an alias on every level it is refused for its aliases too.
    const levels = 40;
    const fragments = [`fragment F0 on Query { viewer { id } }`];
    for (let i = 1; i <= levels; i++)
      fragments.push(`fragment F${i} on Query { ...F${i - 1} a${i}: viewer { id } ...F${i - 1} }`);
    const r = await api.gql(t.adminToken, `query { ...F${levels} } ${fragments.join(' ')}`);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    // viewer { id } is 2; level i adds itself (2) to twice level i-1: cost(i) = 2 * cost(i-1) + 2.
    let cost = 2;
    for (let i = 1; i <= levels; i++) cost = 2 * cost + 2;
    expect(r.errors?.map((e) => e.message)).toContain(`the operation's estimated cost is ${cost}; the limit is 50000`);
  });

  it('refuses a negative page before execution, so that it cannot lower the estimate', async () => {
    const expensive = Array.from(
      { length: 5 },
      (_, i) =>
        `t${i}: tokens(first: 100) { edges { node { id name owner { name } scopes { name } secrets { hint } } } }`,
    ).join(' ');
    const r = await api.gql(
      t.adminToken,
      `{ decoy: tokens(first: -2000000000) { edges { node { id } } } ${expensive} }`,
    );
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.data).toBeUndefined();
    expect(r.errors?.map((e) => e.message)).toContain('"first" on tokens must be from 0 to 100');
    expect(r.errors?.map((e) => e.message).some((m) => /estimated cost/.test(m))).toBe(true);
  });
});

describe('/metrics', () => {
  it('takes a bearer token when METRICS_TOKEN is set', async () => {
    const guarded = await startTestApi({ METRICS_TOKEN: 'scrape-me-please-0123' });
    try {
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
      expect(
        (await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status,
      ).toBe(401);
      const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer scrape-me-please-0123' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('latchkey_verifications_total');
    } finally {
      await guarded.close();
    }
  });

  it('moves to a listener of its own with METRICS_LISTEN, and leaves the public one', async () => {
    const split = await startTestApi({ METRICS_LISTEN: '127.0.0.1:0' });
    try {
      expect((await fetch(`${split.url}/metrics`)).status).toBe(404);
      expect(split.api.metricsUrl).not.toBe(`${split.url}/metrics`);
      const ok = await fetch(split.api.metricsUrl);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('latchkey_verifications_total');
      expect((await fetch(split.api.metricsUrl.replace('/metrics', '/graphql'))).status).toBe(404);
    } finally {
      await split.close();
    }
  });
});

describe('transport', () => {
  it('refuses mutations over GET', async () => {
    const url = `${api.url}/graphql?query=${encodeURIComponent('mutation { createScope(input: { name: "get:x:read" }) { id } }')}`;
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${t.adminToken}`, 'apollo-require-preflight': 'true' },
    });
    expect(res.status).toBe(405);
    expect((await api.sql(`SELECT count(*)::int AS n FROM scopes WHERE name = 'get:x:read'`))[0].n).toBe(0);
  });

  it('answers queries over GET', async () => {
    const url = `${api.url}/graphql?query=${encodeURIComponent('{ viewer { name } }')}`;
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${t.adminToken}`, 'apollo-require-preflight': 'true' },
    });
    expect(res.status).toBe(200);
    expect((await jsonOf(res)).data.viewer.name).toBe('admin');
  });

  it('blocks simple (CSRF-able) requests', async () => {
    const res = await fetch(`${api.url}/graphql?query=${encodeURIComponent('{ viewer { name } }')}`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(res.status).toBe(400);
    const form = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${t.adminToken}` },
      body: JSON.stringify({ query: 'mutation { createScope(input: { name: "csrf:x:read" }) { id } }' }),
    });
    expect(form.status).toBeGreaterThanOrEqual(400);
    expect((await api.sql(`SELECT count(*)::int AS n FROM scopes WHERE name = 'csrf:x:read'`))[0].n).toBe(0);
  });

  it('answers a request id, and takes the caller’s', async () => {
    const res = await fetch(`${api.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-123');
  });
});

describe('production', () => {
  it('turns introspection off', async () => {
    const r = await prod.gql(t.adminToken, `{ __schema { types { name } } }`);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect((await api.gql(t.adminToken, `{ __schema { queryType { name } } }`)).errors).toBeUndefined();
  });

  it('does not suggest field names', async () => {
    const dev = await api.gql(t.adminToken, `{ tokenz { totalCount } }`);
    expect(dev.errors?.[0]?.message).toMatch(/Did you mean/);
    const r = await prod.gql(t.adminToken, `{ tokenz { totalCount } }`);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });
});

describe('errors', () => {
  it('every error carries a contract code and no internals', async () => {
    const cases = [
      `{ owner(id: "00000000-0000-7000-8000-000000000000") { id } }`,
      `{ owner(id: "nope") { id } }`,
      `{ tokens(first: 1000) { totalCount } }`,
      `mutation { createTenant(input: { name: "", adminName: "" }) { tenant { id } } }`,
    ];
    for (const q of cases) {
      const r = await api.gql(t.adminToken, q);
      expect([
        'BAD_USER_INPUT',
        'UNAUTHENTICATED',
        'FORBIDDEN',
        'NOT_FOUND',
        'CONFLICT',
        'INTERNAL_SERVER_ERROR',
      ]).toContain(codeOf(r));
      expect(JSON.stringify(r)).not.toMatch(/stacktrace|\.ts:|\.js:|QueryFailedError|SELECT /);
    }
  });
});

describe('lists are bounded and priced by their bound', () => {
  it('a credential with many versions answers a page of them; asking for all of them across aliases is refused before execution', async () => {
    const name = `many-versions-${Date.now()}`;
    await api.ok(t.adminToken, CreateCredentialDocument, { input: { name, value: 'v1' } });
    for (let v = 2; v <= 130; v++)
      await api.ok(
        t.adminToken,
        `mutation($n: String!, $v: String!) { addCredentialVersion(input: { name: $n, value: $v, gracePeriod: "PT0S" }) { version } }`,
        { n: name, v: `v${v}` },
      );
    const { credential } = await api.ok(
      t.adminToken,
      `query($n: String!) { credential(name: $n) { currentVersion { version } versions { totalCount pageInfo { hasNextPage } edges { node { version } } } } }`,
      { n: name },
    );
    expect(credential.currentVersion).toEqual({ version: 130 });
    expect(credential.versions.totalCount).toBe(130);
    expect(credential.versions.edges).toHaveLength(20);
    expect(credential.versions.edges[0].node.version).toBe(130);
    expect(credential.versions.pageInfo.hasNextPage).toBe(true);
    const greedy = `{ ${Array.from({ length: 5 }, (_, i) => `c${i}: credentials(first: 100) { edges { node { versions(first: 100) { edges { node { version state createdAt } } } } } }`).join(' ')} }`;
    const r = await api.gql(t.adminToken, greedy);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/estimated cost/);
  });

  it('a tenant holds at most 100 roles: the next one is refused with CONFLICT and nothing is written', async () => {
    const tenant = await newTenant(api);
    const [{ n }] = await api.sql(`SELECT count(*)::int AS n FROM roles WHERE tenant_id = $1`, [tenant.tenantId]);
    for (let i = n; i < 100; i++)
      await api.ok(tenant.adminToken, CreateRoleDocument, {
        input: { name: `role-${i}`, permissions: ['TOKEN_READ'] },
      });
    const r = await api.gql(tenant.adminToken, CreateRoleDocument, {
      input: { name: 'one-too-many', permissions: ['TOKEN_READ'] },
    });
    expect(codeOf(r)).toBe('CONFLICT');
    expect(r.errors?.[0]?.message).toMatch(/at most 100/);
    expect((await api.sql(`SELECT count(*)::int AS n FROM roles WHERE tenant_id = $1`, [tenant.tenantId]))[0].n).toBe(
      100,
    );
  });
});
