// Verification through a Redis outage, with a Redis of the test's own killed and started again:
// tokens in memory keep verifying without waiting on Redis, and a revocation still reaches the
// replica within its change-poll interval.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { jsonOf, metricsOf, startTestApi, type TestApi } from '../helpers/api';
import { createScopes, issue, newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';
import { type RedisProcess, startRedisProcess } from '../helpers/redis-process';
import { CreateOwnerDocument, RevokeTokenDocument } from '../generated/graphql';

let redis: RedisProcess;
let api: TestApi;
let t: TenantFixture;
let gateway: string;
let ownerId: string;

const verify = async (secret: string) =>
  jsonOf(
    await fetch(`${api.url}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway}` },
      body: JSON.stringify({ token: secret, requiredScopes: ['crm:deals:read'] }),
    }),
  );

beforeAll(async () => {
  redis = await startRedisProcess();
  api = await startTestApi({ REDIS_URL: redis.url });
  t = await newTenant(api);
  await createScopes(api, t.adminToken, ['crm:deals:read']);
  gateway = (await newPrincipal(api, t.adminToken, ['gateway'])).token;
  ownerId = (
    await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'svc', allowedScopes: ['crm:deals:read'] },
    })
  ).createOwner.id;
});
afterAll(async () => {
  await redis.start().catch(() => undefined);
  await api.close();
  await redis.kill();
});

it('keeps verifying from memory while Redis is down, and still applies a revocation within the poll interval', async () => {
  const kept = await issue(api, t.adminToken, ownerId, ['crm:deals:read']);
  const revoked = await issue(api, t.adminToken, ownerId, ['crm:deals:read']);
  expect((await verify(kept.secret)).valid).toBe(true);
  expect((await verify(revoked.secret)).valid).toBe(true);

  await redis.kill();
  await expect.poll(() => api.container.redis.status, { timeout: 5_000 }).not.toBe('ready');

  // The revocation commits; announcing it through Redis fails at once instead of holding the answer.
  const started = Date.now();
  await api.ok(t.adminToken, RevokeTokenDocument, { id: revoked.id, reason: 'leaked' });
  expect(Date.now() - started).toBeLessThan(1_000);

  // Each lookup is answered from memory: twenty in a row took 3.6-4 s each when polls stalled.
  const before = await metricsOf(api.url);
  const t0 = Date.now();
  for (let i = 0; i < 20; i++) expect((await verify(kept.secret)).valid).toBe(true);
  expect(Date.now() - t0).toBeLessThan(2_000);
  const after = await metricsOf(api.url);
  expect(
    after('latchkey_verify_lookups_total{layer="local"}') - before('latchkey_verify_lookups_total{layer="local"}'),
  ).toBeGreaterThanOrEqual(20);
  expect(after('latchkey_verify_lookups_total{layer="redis"}')).toBe(
    before('latchkey_verify_lookups_total{layer="redis"}'),
  );
  expect(after('latchkey_verify_cache_trusted')).toBe(1);

  // The poller applies the revocation locally although it cannot clear Redis.
  await expect
    .poll(async () => (await verify(revoked.secret)).failure, { timeout: 3_000, interval: 100 })
    .toBe('REVOKED');

  // A token never seen before is read from Postgres, without waiting on Redis.
  const fresh = await issue(api, t.adminToken, ownerId, ['crm:deals:read']);
  const t1 = Date.now();
  expect((await verify(fresh.secret)).valid).toBe(true);
  expect(Date.now() - t1).toBeLessThan(1_000);

  // Redis comes back: the stale shared entry of the revoked token was cleared by the poller's retry.
  await redis.start();
  await expect.poll(() => api.container.redis.status, { timeout: 10_000 }).toBe('ready');
  await expect
    .poll(async () => (await verify(revoked.secret)).failure, { timeout: 3_000, interval: 100 })
    .toBe('REVOKED');
  expect((await verify(kept.secret)).valid).toBe(true);
});
