// Authentication: every operation and REST call except health needs a valid Latchkey token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/tokens/token-format';
import { startTestApi, type TestApi, jsonOf } from '../helpers/api';
import { createScopes, issue, newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';
import {
  CreateOwnerDocument,
  RevokeTokenDocument,
  SuspendTokenDocument,
  TokensOfOwnerDocument,
} from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:deals:read']);
});
afterAll(() => api.close());

async function expectUnauthenticated(authorization: string | undefined, message: RegExp) {
  const res = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query: '{ viewer { id } }' }),
  });
  expect(res.status).toBe(401);
  const body = await jsonOf(res);
  expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  expect(body.errors[0].message).toMatch(message);
  expect(body.data).toBeUndefined();
}

describe('authentication', () => {
  it('refuses a missing or non-bearer header', async () => {
    await expectUnauthenticated(undefined, /Bearer/);
    await expectUnauthenticated(`Basic ${Buffer.from('a:b').toString('base64')}`, /Bearer/);
  });

  it('refuses malformed, unknown, revoked, suspended and expired tokens', async () => {
    await expectUnauthenticated('Bearer lk_garbage', /MALFORMED/);
    await expectUnauthenticated(`Bearer ${generateToken()}`, /NOT_FOUND/);
    const p = await newPrincipal(api, t.adminToken, ['auditor']);
    const { tokens } = await api.ok(t.adminToken, TokensOfOwnerDocument, { ownerId: p.ownerId });
    const id = tokens.edges[0].node.id;
    await api.ok(t.adminToken, SuspendTokenDocument, { id, reason: 'x' });
    await expectUnauthenticated(`Bearer ${p.token}`, /SUSPENDED/);
    await api.ok(t.adminToken, RevokeTokenDocument, { id, reason: 'x' });
    await expectUnauthenticated(`Bearer ${p.token}`, /REVOKED/);
    const short = await issue(api, t.adminToken, p.ownerId, [], {
      expiresAt: new Date(Date.now() + 1_200).toISOString(),
    });
    expect((await api.gql(short.secret, '{ viewer { id } }')).errors).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1_300));
    await expectUnauthenticated(`Bearer ${short.secret}`, /EXPIRED/);
  });

  it('refuses a token carrying API scopes: it is for the APIs, not for Latchkey', async () => {
    const { createOwner } = await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'USER', name: 'scoped', allowedScopes: ['crm:deals:read'] },
    });
    const scoped = await issue(api, t.adminToken, createOwner.id, ['crm:deals:read']);
    await expectUnauthenticated(`Bearer ${scoped.secret}`, /scopes/);
  });

  it('guards the REST verify endpoint: 401, 403 without TOKEN_VERIFY, 400 on a bad body', async () => {
    const post = (authorization: string | null, body: string) =>
      fetch(`${api.url}/v1/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body,
      });
    expect((await post(null, '{"token":"x"}')).status).toBe(401);
    const auditor = await newPrincipal(api, t.adminToken, ['auditor']);
    const forbidden = await post(`Bearer ${auditor.token}`, '{"token":"x"}');
    expect(forbidden.status).toBe(403);
    expect((await jsonOf(forbidden)).error.code).toBe('FORBIDDEN');
    const gateway = await newPrincipal(api, t.adminToken, ['gateway']);
    for (const bad of ['{', '{"token": 1}', '[]', '{"token":"x","requiredScopes":"crm"}']) {
      const r = await post(`Bearer ${gateway.token}`, bad);
      expect(r.status, bad).toBe(400);
    }
    const ok = await post(`Bearer ${gateway.token}`, JSON.stringify({ token: generateToken() }));
    expect(ok.status).toBe(200);
    expect(await jsonOf(ok)).toMatchObject({ valid: false, failure: 'NOT_FOUND', scopes: [], rotationPending: false });
  });

  it('keeps health open and readiness honest', async () => {
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await jsonOf(ready)).toMatchObject({ checks: { postgres: true, redis: true } });
    const metrics = await fetch(`${api.url}/metrics`);
    expect(await metrics.text()).toContain('latchkey_verifications_total');
  });
});
