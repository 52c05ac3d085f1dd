// /metrics answers the questions the README's targets ask: time to answer by door, gateways'
// verifications apart from Latchkey's own authentications.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { metricsOf, startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';
import { CreateOwnerDocument, CreateScopeDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let gateway: string;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:deals:read']);
  gateway = (await newPrincipal(api, t.adminToken, ['gateway'])).token;
});
afterAll(() => api.close());

it('counts a gateway’s verification apart from its own authentication, and times each door', async () => {
  const owner = (
    await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'm', allowedScopes: ['crm:deals:read'] },
    })
  ).createOwner.id;
  const tok = await issue(api, t.adminToken, owner, ['crm:deals:read']);
  await api.ok(t.adminToken, `{ viewer { id } }`);
  const before = await metricsOf(api.url);
  const verify = await fetch(`${api.url}/v1/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway}` },
    body: JSON.stringify({ token: tok.secret, requiredScopes: ['crm:deals:write'] }),
  });
  expect(verify.status).toBe(200);
  await api.ok(t.adminToken, `{ viewer { id } }`);
  await api.ok(t.adminToken, CreateScopeDocument, { input: { name: 'm:x:read' } });
  const after = await metricsOf(api.url);
  const delta = (series: string) => after(series) - before(series);
  // One verification for the gateway (its user's token lacks the scope), one authentication of the gateway itself.
  expect(delta('latchkey_gateway_verifications_total{result="INSUFFICIENT_SCOPE"}')).toBe(1);
  expect(delta('latchkey_gateway_verifications_total{result="VALID"}')).toBe(0);
  expect(delta('latchkey_authentications_total{result="VALID"}')).toBe(3);
  expect(delta('latchkey_request_duration_seconds_count{door="verify"}')).toBe(1);
  expect(delta('latchkey_request_duration_seconds_count{door="graphql_query"}')).toBe(1);
  expect(delta('latchkey_request_duration_seconds_count{door="graphql_mutation"}')).toBe(1);
  expect(after('latchkey_request_duration_seconds_bucket{door="verify",le="+Inf"}')).toBe(
    after('latchkey_request_duration_seconds_count{door="verify"}'),
  );
  expect(after('latchkey_request_duration_seconds_sum{door="verify"}')).toBeGreaterThan(0);
});
