// The webhook delivery processor on its own: one attempt at a time, called as the BullMQ worker
// calls it, against real Postgres and a local receiver. No worker runs (a Redis prefix of this
// file's own), so each delivery is exactly where the test left it.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/shared/infra';
import { SecretBox } from '../../src/platform/secret-box';
import { createOutbound } from '../../src/outbound/outbound';
import { WebhookDeliveries } from '../../src/webhooks/webhook.jobs';
import { startTestApi, type TestApi, waitFor } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { ownRedisPrefix } from '../helpers/own-database';

let api: TestApi;
let t: TenantFixture;
let receiver: Server;
let base: string;
const hits: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url === '/ok') res.writeHead(204).end();
      else if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end();
      else res.writeHead(503).end('down for maintenance');
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => receiver.once('listening', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  api = await startTestApi({ REDIS_PREFIX: ownRedisPrefix('webhook-jobs') });
  t = await newTenant(api);
});

afterAll(async () => {
  await api?.close();
  receiver?.close();
});

function deliveries(opts: { attempts?: number; allow?: string[]; platformUrls?: string[] } = {}): WebhookDeliveries {
  const { config, ds, services } = api.container;
  const outbound = createOutbound({
    webhookAllow: opts.allow ?? ['127.0.0.1'],
    rotatorAllow: [],
    deadlineMs: 2_000,
    platformUrls: opts.platformUrls ?? [config.databaseUrl, config.redisUrl],
  });
  return new WebhookDeliveries(
    ds,
    services.audit,
    new SecretBox(config.keyring.keys, config.keyring.activeKeyId),
    outbound.http,
    { attempts: opts.attempts ?? 3, backoffMs: 60_000, sweepAfterMs: 60_000 },
    pino({ level: 'silent' }),
  );
}

/** A webhook on `path` and the pending delivery of one test event to it. */
async function pendingDelivery(path: string): Promise<{ webhookId: string; deliveryId: string }> {
  const { createWebhook } = await api.ok(
    t.adminToken,
    `mutation($u: String!) { createWebhook(url: $u, events: ["SCOPE_CREATED"]) { webhook { id } } }`,
    { u: `${base}${path}` },
  );
  const webhookId = createWebhook.webhook.id;
  await api.ok(t.adminToken, `mutation($id: ID!) { testWebhook(id: $id) { id } }`, { id: webhookId });
  const [row] = await waitFor(
    () => api.sql(`SELECT id FROM webhook_deliveries WHERE webhook_id = $1`, [webhookId]),
    (rows) => rows.length === 1,
  );
  return { webhookId, deliveryId: row.id };
}

const delivery = async (id: string) =>
  (
    await api.sql(
      `SELECT status, attempts, last_status, last_error, last_response, next_attempt_at, delivered_at FROM webhook_deliveries WHERE id = $1`,
      [id],
    )
  )[0];
const webhook = async (id: string) =>
  (await api.sql(`SELECT status, disabled_reason, last_success_at FROM webhooks WHERE id = $1`, [id]))[0];

describe('webhook delivery attempts', () => {
  it('delivers once, records the answer, and skips the delivery when its job runs again', async () => {
    const { webhookId, deliveryId } = await pendingDelivery('/ok');
    const jobs = deliveries();
    expect(await jobs.attempt(deliveryId, t.tenantId)).toEqual({ status: 'delivered' });
    const d = await delivery(deliveryId);
    expect(d).toMatchObject({
      status: 'DELIVERED',
      attempts: 1,
      last_status: 204,
      last_error: null,
      next_attempt_at: null,
    });
    expect(d.delivered_at).toBeInstanceOf(Date);
    expect((await webhook(webhookId)).last_success_at).toBeInstanceOf(Date);
    const hit = hits.filter((h) => h.path === '/ok').at(-1)!;
    expect(hit.headers['webhook-signature']).toMatch(/^v1,/);
    expect(JSON.parse(hit.body)).toMatchObject({ type: 'WEBHOOK_TESTED', data: { targetId: webhookId } });

    const before = hits.length;
    expect(await jobs.attempt(deliveryId, t.tenantId)).toEqual({ status: 'skipped', reason: 'already DELIVERED' });
    expect(hits.length).toBe(before);
  });

  it('throws to be retried, scheduling the next attempt, and dead-letters after the last, disabling the endpoint', async () => {
    const { webhookId, deliveryId } = await pendingDelivery('/down');
    const jobs = deliveries({ attempts: 2 });
    const before = Date.now();
    await expect(jobs.attempt(deliveryId, t.tenantId)).rejects.toThrow(/answered 503/);
    const retrying = await delivery(deliveryId);
    expect(retrying).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      last_status: 503,
      last_error: 'answered 503',
      last_response: 'down for maintenance',
    });
    expect(retrying.next_attempt_at.getTime()).toBeGreaterThanOrEqual(before + 60_000);
    expect(retrying.next_attempt_at.getTime()).toBeLessThan(Date.now() + 61_000);

    expect(await jobs.attempt(deliveryId, t.tenantId)).toEqual({ status: 'dead', reason: 'answered 503' });
    expect(await delivery(deliveryId)).toMatchObject({ status: 'DEAD', attempts: 2, next_attempt_at: null });
    expect(await webhook(webhookId)).toMatchObject({
      status: 'DISABLED',
      disabled_reason: 'deliveries kept failing (last: answered 503)',
    });
    const audited = await api.sql(
      `SELECT data FROM audit_events WHERE action = 'WEBHOOK_DISABLED' AND target_id = $1`,
      [webhookId],
    );
    expect(audited).toEqual([{ data: { reason: 'deliveries kept failing (last: answered 503)', deliveryId } }]);
  });

  it('does not follow a redirect, counting it as a failed attempt', async () => {
    const { deliveryId } = await pendingDelivery('/moved');
    await expect(deliveries().attempt(deliveryId, t.tenantId)).rejects.toThrow(/redirected \(302\)/);
    expect(await delivery(deliveryId)).toMatchObject({ status: 'PENDING', attempts: 1, last_status: 302 });
  });

  it('dead-letters at once a delivery whose target the address rules refuse, without connecting', async () => {
    const { deliveryId } = await pendingDelivery('/ok');
    const before = hits.length;
    const outcome = await deliveries({ allow: [] }).attempt(deliveryId, t.tenantId);
    expect(outcome.status).toBe('dead');
    expect(outcome.reason).toMatch(/^refused: /);
    expect(hits.length).toBe(before);
    expect(await delivery(deliveryId)).toMatchObject({ status: 'DEAD', attempts: 1 });
  });

  it('dead-letters at once a delivery to Latchkey’s own Postgres or Redis, though the allow list lists its address, without connecting', async () => {
    // The receiver stands in for the platform's Redis: its port is what REDIS_URL names here.
    const { deliveryId } = await pendingDelivery('/ok');
    const before = hits.length;
    const outcome = await deliveries({ platformUrls: [`redis://localhost:${new URL(base).port}`] }).attempt(
      deliveryId,
      t.tenantId,
    );
    expect(outcome).toMatchObject({ status: 'dead', reason: expect.stringMatching(/^refused: /) });
    expect(hits.length).toBe(before);
  });

  it('records a failure as a category, not the network’s words: a closed port reads "unreachable"', async () => {
    const { webhookId, deliveryId } = await pendingDelivery('/ok');
    const port = await freePort();
    await api.sql(`UPDATE webhooks SET url = $2 WHERE id = $1`, [webhookId, `http://127.0.0.1:${port}/ok`]);
    await expect(deliveries().attempt(deliveryId, t.tenantId)).rejects.toThrow(/unreachable/);
    expect(await delivery(deliveryId)).toMatchObject({ status: 'PENDING', attempts: 1, last_error: 'unreachable' });
  });

  it('dead-letters the deliveries of a disabled endpoint, and skips a delivery of another tenant', async () => {
    const { webhookId, deliveryId } = await pendingDelivery('/ok');
    const other = await newTenant(api);
    expect(await deliveries().attempt(deliveryId, other.tenantId)).toEqual({
      status: 'skipped',
      reason: 'no such delivery',
    });
    expect((await delivery(deliveryId)).status).toBe('PENDING');

    await api.sql(`UPDATE webhooks SET status = 'DISABLED' WHERE id = $1`, [webhookId]);
    const before = hits.length;
    expect(await deliveries().attempt(deliveryId, t.tenantId)).toEqual({
      status: 'dead',
      reason: 'the endpoint is disabled',
    });
    expect(hits.length).toBe(before);
  });
});
