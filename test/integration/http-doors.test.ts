// Every HTTP door answers through one writer: a request id on every answer (the caller's when it
// is sane), the same id in an error's body, a challenge on a 401 and the wait on a 429.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { generateToken } from '../../src/tokens/token-format';
import { newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';

let api: TestApi;
let t: TenantFixture;
let gateway: string;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  gateway = (await newPrincipal(api, t.adminToken, ['gateway'])).token;
});
afterAll(() => api.close());

const doors = () => [
  {
    door: 'POST /v1/verify',
    call: () =>
      fetch(`${api.url}/v1/verify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway}`, 'content-type': 'application/json' },
        body: '{',
      }),
    status: 400,
  },
  {
    door: 'GET /v1/authz',
    call: () =>
      fetch(`${api.url}/v1/authz`, { headers: { 'x-latchkey-gateway-token': gateway, 'x-latchkey-scopes': 'any' } }),
    status: 401,
  },
  {
    door: 'POST /oauth2/introspect',
    call: () =>
      fetch(`${api.url}/oauth2/introspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway}`, 'content-type': 'text/plain' },
        body: 'x',
      }),
    status: 400,
  },
  {
    door: 'GET /v1/credentials/{name}',
    call: () => fetch(`${api.url}/v1/credentials/x`, { headers: { authorization: `Bearer ${generateToken()}` } }),
    status: 401,
  },
  {
    door: 'POST /v1/tokens/successor',
    call: () => fetch(`${api.url}/v1/tokens/successor`, { method: 'POST' }),
    status: 401,
  },
  {
    door: 'GET /v1/audit/export',
    call: () => fetch(`${api.url}/v1/audit/export`, { headers: { authorization: `Bearer ${gateway}` } }),
    status: 403,
  },
];

it('every door puts a request id on its answer, and the same one in an error body', async () => {
  for (const { door, call, status } of doors()) {
    const res = await call();
    expect(res.status, door).toBe(status);
    const id = res.headers.get('x-request-id');
    expect(id, door).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.json()) as { error?: { requestId?: string } | string };
    if (typeof body.error === 'object') expect(body.error.requestId, door).toBe(id);
  }
  const health = await fetch(`${api.url}/healthz`);
  expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
});

it('takes the caller’s request id when it is sane, and a challenge comes with every 401', async () => {
  const res = await fetch(`${api.url}/v1/credentials/x`, {
    headers: { authorization: `Bearer ${generateToken()}`, 'x-request-id': 'trace-42.a_b' },
  });
  expect(res.headers.get('x-request-id')).toBe('trace-42.a_b');
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="latchkey"/);
  expect(((await res.json()) as { error: { requestId: string } }).error.requestId).toBe('trace-42.a_b');
  const insane = await fetch(`${api.url}/v1/tokens/successor`, {
    method: 'POST',
    headers: { 'x-request-id': 'no spaces allowed' },
  });
  expect(insane.headers.get('x-request-id')).not.toBe('no spaces allowed');
  expect(insane.headers.get('www-authenticate')).toBe('Bearer realm="latchkey"');
});
