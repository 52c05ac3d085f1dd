// Bad input gets a clear, typed error and changes nothing: every table and the audit log are
// compared before and after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, jsonOf } from '../helpers/api';
import { createScopes, issue, newTenant, type TenantFixture } from '../helpers/fixtures';
import { wsClient } from '../helpers/ws';
import { CreateOwnerDocument, CreateRotationPolicyDocument, IssueTokenDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let ownerId: string;
let tokenId: string;
let policyId: string;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:deals:read']);
  ownerId = (
    await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'svc', allowedScopes: ['crm:deals:read'] },
    })
  ).createOwner.id;
  tokenId = (await issue(api, t.adminToken, ownerId, ['crm:deals:read'])).id;
  policyId = (
    await api.ok(t.adminToken, CreateRotationPolicyDocument, { input: { name: 'taken', gracePeriod: 'PT1H' } })
  ).createRotationPolicy.id;
});
afterAll(() => api.close());

const TABLES = [
  'tenants',
  'owners',
  'owner_scopes',
  'roles',
  'role_bindings',
  'scopes',
  'rotation_policies',
  'tokens',
  'token_scopes',
  'token_secrets',
  'audit_events',
];

async function state(): Promise<string> {
  const counts = await api.sql(`SELECT ${TABLES.map((x) => `(SELECT count(*) FROM ${x}) AS ${x}`).join(', ')}`);
  const changed = await api.sql(`SELECT max(updated_at) AS t FROM tokens`);
  return JSON.stringify([counts, changed]);
}

const CASES: Array<[string, string, () => Record<string, unknown>, string, RegExp?]> = [
  [
    'malformed scope name',
    `mutation { createScope(input: { name: "CRM sales" }) { id } }`,
    () => ({}),
    'BAD_USER_INPUT',
    /service>:<resource>/,
  ],
  [
    'duplicate scope',
    `mutation { createScope(input: { name: "crm:deals:read" }) { id } }`,
    () => ({}),
    'CONFLICT',
    /already exists/,
  ],
  [
    'owner with unknown scope',
    `mutation { createOwner(input: { kind: USER, name: "u", allowedScopes: ["crm:nope:read"] }) { id } }`,
    () => ({}),
    'BAD_USER_INPUT',
    /crm:nope:read/,
  ],
  [
    'owner with bad email',
    `mutation { createOwner(input: { kind: USER, name: "u", email: "not-an-email" }) { id } }`,
    () => ({}),
    'BAD_USER_INPUT',
  ],
  [
    'duplicate owner name',
    `mutation { createOwner(input: { kind: USER, name: "SVC" }) { id } }`,
    () => ({}),
    'CONFLICT',
  ],
  [
    'owner with unknown kind',
    `mutation { createOwner(input: { kind: ROBOT, name: "u" }) { id } }`,
    () => ({}),
    'BAD_USER_INPUT',
  ],
  [
    'role with bad name',
    `mutation { createRole(input: { name: "Bad Name", permissions: [] }) { id } }`,
    () => ({}),
    'BAD_USER_INPUT',
  ],
  [
    'duplicate role',
    `mutation { createRole(input: { name: "admin", permissions: [] }) { id } }`,
    () => ({}),
    'CONFLICT',
  ],
  [
    'policy with months',
    `mutation { createRotationPolicy(input: { name: "m", gracePeriod: "P1M" }) { id } }`,
    () => ({}),
    'BAD_USER_INPUT',
  ],
  [
    'policy with grace past rotation',
    `mutation { createRotationPolicy(input: { name: "g", rotateEvery: "PT1H", gracePeriod: "PT2H" }) { id } }`,
    () => ({}),
    'BAD_USER_INPUT',
    /shorter than rotateEvery/,
  ],
  [
    'duplicate policy',
    `mutation { createRotationPolicy(input: { name: "TAKEN", gracePeriod: "PT1H" }) { id } }`,
    () => ({}),
    'CONFLICT',
  ],
  [
    'policy update with bad duration variable',
    `mutation($g: Duration!, $id: ID!) { updateRotationPolicy(id: $id, input: { name: "taken", gracePeriod: $g }) { id } }`,
    () => ({ g: '1 hour', id: policyId }),
    'BAD_USER_INPUT',
  ],
  [
    'token with no name',
    `mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "  ", scopes: [] }) { secret } }`,
    () => ({ o: ownerId }),
    'BAD_USER_INPUT',
  ],
  [
    'token with a past expiry',
    `mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "x", scopes: [], expiresAt: "2020-01-01T00:00:00Z" }) { secret } }`,
    () => ({ o: ownerId }),
    'BAD_USER_INPUT',
    /future/,
  ],
  [
    'token with a bad date',
    `mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "x", scopes: [], expiresAt: "tomorrow" }) { secret } }`,
    () => ({ o: ownerId }),
    'BAD_USER_INPUT',
  ],
  [
    'token with bad labels',
    `mutation($o: ID!, $l: JSONObject) { issueToken(input: { ownerId: $o, name: "x", scopes: [], labels: $l }) { secret } }`,
    () => ({ o: ownerId, l: { 'Bad Key': 'v' } }),
    'BAD_USER_INPUT',
    /label key/,
  ],
  [
    'token with a non-string label',
    `mutation($o: ID!) { issueToken(input: { ownerId: $o, name: "x", scopes: [], labels: { k: 1 } }) { secret } }`,
    () => ({ o: ownerId }),
    'BAD_USER_INPUT',
  ],
  [
    'token for a malformed owner id',
    `mutation { issueToken(input: { ownerId: "42", name: "x", scopes: [] }) { secret } }`,
    () => ({}),
    'BAD_USER_INPUT',
    /not a valid ID/,
  ],
  [
    'rotation with a bad grace',
    `mutation($id: ID!) { rotateToken(id: $id, gracePeriod: "soon") { secret } }`,
    () => ({ id: tokenId }),
    'BAD_USER_INPUT',
  ],
  [
    'rotation with a grace too long',
    `mutation($id: ID!) { rotateToken(id: $id, gracePeriod: "P365D") { secret } }`,
    () => ({ id: tokenId }),
    'BAD_USER_INPUT',
  ],
  [
    'revoke without a reason',
    `mutation($id: ID!) { revokeToken(id: $id, reason: " ") { id } }`,
    () => ({ id: tokenId }),
    'BAD_USER_INPUT',
    /reason/,
  ],
  [
    'bulk revoke with an empty filter',
    `mutation { revokeTokens(filter: {}, reason: "x") { count } }`,
    () => ({}),
    'BAD_USER_INPUT',
  ],
  ['resume an active token', `mutation($id: ID!) { resumeToken(id: $id) { id } }`, () => ({ id: tokenId }), 'CONFLICT'],
  ['page too large', `{ tokens(first: 101) { totalCount } }`, () => ({}), 'BAD_USER_INPUT', /100/],
  ['negative page', `{ owners(first: -1) { totalCount } }`, () => ({}), 'BAD_USER_INPUT'],
  ['garbage cursor', `{ tokens(after: "not-a-cursor") { totalCount } }`, () => ({}), 'BAD_USER_INPUT'],
  ['unknown field', `{ tokens { nonsense } }`, () => ({}), 'BAD_USER_INPUT'],
  ['syntax error', `{ tokens { `, () => ({}), 'BAD_USER_INPUT'],
  ['missing required argument', `mutation { revokeToken(id: "x") { id } }`, () => ({}), 'BAD_USER_INPUT'],
  // Hostile strings: each is refused naming its argument, never an internal error.
  [
    'NUL in an owner name',
    `mutation($n: String!) { createOwner(input: { kind: USER, name: $n }) { id } }`,
    () => ({ n: 'a\u0000b' }),
    'BAD_USER_INPUT',
    /input\.name contains a NUL/,
  ],
  [
    'lone surrogate in a label',
    `mutation($id: ID!, $l: JSONObject) { updateToken(id: $id, input: { labels: $l }) { id } }`,
    () => ({ id: tokenId, l: { team: 'x\ud800' } }),
    'BAD_USER_INPUT',
    /input\.labels\.team/,
  ],
  [
    'lone surrogate in a label key',
    `mutation($id: ID!, $l: JSONObject) { updateToken(id: $id, input: { labels: $l }) { id } }`,
    () => ({ id: tokenId, l: { ['k\udc00']: 'v' } }),
    'BAD_USER_INPUT',
    /unpaired surrogate/,
  ],
  [
    'NUL in a search',
    `query($s: String) { tokens(filter: { search: $s }) { totalCount } }`,
    () => ({ s: '\u0000' }),
    'BAD_USER_INPUT',
    /filter\.search/,
  ],
  [
    'NUL in a description',
    `mutation($d: String) { createScope(input: { name: "nul:x:read", description: $d }) { id } }`,
    () => ({ d: 'x\u0000' }),
    'BAD_USER_INPUT',
    /input\.description/,
  ],
  [
    'a revoke reason quoting a secret',
    `mutation($id: ID!, $r: String!) { revokeToken(id: $id, reason: $r) { id } }`,
    () => ({ id: tokenId, r: `leaked: lk_${'a'.repeat(49)}` }),
    'BAD_USER_INPUT',
    /reason contains something shaped like a Latchkey secret/,
  ],
  [
    'a long garbage cursor',
    `query($a: String) { tokens(after: $a) { totalCount } }`,
    () => ({ a: 'z'.repeat(5000) }),
    'BAD_USER_INPUT',
    /^cursor "z{40}…" is not valid$/,
  ],
];

describe('bad input is refused with a typed error and changes nothing', () => {
  for (const [name, query, vars, code, message] of CASES) {
    it(name, async () => {
      const before = await state();
      const r = await api.gql(t.adminToken, query, vars());
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(r.errors)).toBe(code);
      if (message) expect(r.errors?.[0]?.message).toMatch(message);
      expect(JSON.stringify(r)).not.toMatch(/at .*\.(ts|js):\d+|SELECT|INSERT|stack/i);
      expect(await state()).toBe(before);
    });
  }

  it('never echoes a secret it refused', async () => {
    const secret = `lk_${'b'.repeat(49)}`;
    const r = await api.gql(
      t.adminToken,
      `mutation($id: ID!, $r: String!) { revokeToken(id: $id, reason: $r) { id } }`,
      { id: tokenId, r: secret },
    );
    expect(JSON.stringify(r)).not.toContain(secret);
  });

  it('validation errors over WebSocket are bad input too', async () => {
    const ws = wsClient(api.url, t.adminToken);
    try {
      const s = ws.subscribe(`subscription { auditEvents { nonsense } }`);
      await expect(s.until(() => false, 5_000)).rejects.toThrow(/subscription failed/);
      const errors = (Array.isArray(s.errors[0]) ? s.errors[0] : s.errors) as Array<{ extensions?: { code?: string } }>;
      expect(errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    } finally {
      await ws.dispose();
    }
  });

  it('an APQ hash that does not match its query is bad input', async () => {
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` },
      body: JSON.stringify({
        query: '{ viewer { id } }',
        extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } },
      }),
    });
    const body = await jsonOf(res);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('forward-auth answers a scope that is no scope name with 400, echoing nothing', async () => {
    const gateway = (
      await api.ok(t.adminToken, IssueTokenDocument, { input: { ownerId: t.adminId, name: 'gw', scopes: [] } })
    ).issueToken.secret;
    const tok = await issue(api, t.adminToken, ownerId, ['crm:deals:read']);
    for (const query of ['?scope=crm:d%C3%A9als:read', '?scope=crm:deals:read%22,error=%22x', '?scope=%E2%9C%93']) {
      const res = await fetch(`${api.url}/v1/authz${query}`, {
        headers: { 'x-latchkey-gateway-token': gateway, authorization: `Bearer ${tok.secret}` },
      });
      expect(res.status, query).toBe(400);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(await res.text()).not.toMatch(/d\u00e9als|error=|✓/);
    }
  });

  it('a body over 1 MiB is refused before it is parsed', async () => {
    const before = await state();
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` },
      body: JSON.stringify({
        query: `mutation($d: String) { createScope(input: { name: "big:x:read", description: $d }) { id } }`,
        variables: { d: 'x'.repeat(1_100_000) },
      }),
    });
    expect(res.status).toBe(413);
    expect((await jsonOf(res)).error.code).toBe('BAD_USER_INPUT');
    expect(await state()).toBe(before);
  });
});
