// Webhook deliveries in backoff when Redis loses its data (FLUSHALL on a Redis of the test's own):
// Postgres knows when each attempt is due, and the relay's sweep puts the lost jobs back.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWorkers, type Workers } from '../../src/app/worker';
import { startTestApi, type TestApi } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { type RedisProcess, startRedisProcess } from '../helpers/redis-process';
import { IssueTokenDocument } from '../generated/graphql';

let redis: RedisProcess;
let api: TestApi;
let workers: Workers;
let t: TenantFixture;
let receiver: Server;
let url: string;
let failing = true;
const delivered: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (failing) return void res.writeHead(503).end('down for maintenance');
      delivered.push(JSON.parse(body).data.targetId);
      res.writeHead(204).end();
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => receiver.once('listening', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  redis = await startRedisProcess();
  // Backoff long enough that the jobs sit delayed in Redis when it is flushed; a short sweep lateness.
  api = await startTestApi({
    REDIS_URL: redis.url,
    WEBHOOK_BACKOFF_MS: '2000',
    WEBHOOK_ATTEMPTS: '10',
    WEBHOOK_SWEEP_AFTER_MS: '1000',
  });
  workers = await startWorkers(api.container);
  t = await newTenant(api);
});
afterAll(async () => {
  await workers?.stop();
  await api?.close();
  await redis?.kill();
  receiver?.close();
});

it('delivers events whose retries were waiting in Redis when it was flushed', async () => {
  const { createWebhook } = await api.ok(
    t.adminToken,
    `mutation($url: String!) { createWebhook(url: $url, events: ["TOKEN_ISSUED"]) { webhook { id } } }`,
    { url },
  );
  const issued: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { issueToken } = await api.ok(t.adminToken, IssueTokenDocument, {
      input: { ownerId: t.adminId, name: 'w', scopes: [] },
    });
    issued.push(issueToken.token.id);
  }
  const pending = () =>
    api.sql(`SELECT attempts, next_attempt_at FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'PENDING'`, [
      createWebhook.webhook.id,
    ]);
  // Every delivery has failed once and waits in backoff (a relay running late may also deliver the
  // tenant's first token, issued just before the webhook: hence at least three).
  await expect
    .poll(async () => (await pending()).filter((d) => d.attempts >= 1).length, { timeout: 10_000, interval: 100 })
    .toBeGreaterThanOrEqual(3);
  await redis.flushAll();
  failing = false;
  await expect.poll(() => issued.every((id) => delivered.includes(id)), { timeout: 20_000, interval: 200 }).toBe(true);
  const rows = await api.sql(`SELECT status, attempts, next_attempt_at FROM webhook_deliveries WHERE webhook_id = $1`, [
    createWebhook.webhook.id,
  ]);
  expect(rows.length).toBeGreaterThanOrEqual(3);
  expect(rows.every((r) => r.status === 'DELIVERED')).toBe(true);
  expect(rows.every((r) => r.attempts >= 2 && r.next_attempt_at === null)).toBe(true);
  // Each event reached the receiver once after it recovered.
  expect(delivered.filter((id) => issued.includes(id))).toHaveLength(3);
});
