// What a slow receiver costs, against a database of this file's own with one set of workers: a
// receiver that answers one byte a second is cut off at the total deadline, and one tenant's
// twenty such webhook endpoints, or ten such rotators, do not delay another tenant's delivery or
// rotation. Receivers are on loopback; the figures are printed for docs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkers, type Workers } from '../../src/app/worker';
import { startTestApi, type TestApi } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { ownDatabase } from '../helpers/own-database';
import { type Listener, listener, rotationsOf } from '../helpers/rotations';
import { CreateScopeDocument, RotateCredentialDocument } from '../generated/graphql';

const db = ownDatabase('fairness');
const DEADLINE_MS = 3_000;
let api: TestApi;
let workers: Workers;
let a: TenantFixture;
let b: TenantFixture;
/** Answers every request one byte a second, for ever. */
let trickle: Listener;
const trickled: string[] = [];
let fast: Server;
let fastBase: string;
const arrived = new Map<string, number>();

beforeAll(async () => {
  trickle = await listener('127.0.0.1', (s: Socket) => {
    s.once('data', (chunk: Buffer) => {
      trickled.push(chunk.toString('latin1').split(' ')[1] ?? '');
      const answer = Buffer.from(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n${'x'.repeat(99_000)}`,
      );
      let i = 0;
      const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write(answer.subarray(i, ++i))), 1_000);
      s.on('close', () => clearInterval(timer));
    });
  });
  fast = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      arrived.set(req.url ?? '', Date.now());
      if (JSON.parse(body).step === 'create')
        return res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ value: `fast-${Date.now()}` }));
      res.writeHead(204).end();
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => fast.once('listening', r));
  fastBase = `http://127.0.0.1:${(fast.address() as AddressInfo).port}`;
  api = await startTestApi({
    ...db.env,
    OUTBOUND_DEADLINE_MS: String(DEADLINE_MS),
    ROTATOR_ATTEMPTS: '3',
    ROTATOR_BACKOFF_MS: '50',
  });
  workers = await startWorkers(api.container);
  a = await newTenant(api, db.bootstrapToken());
  b = await newTenant(api, db.bootstrapToken());
});

afterAll(async () => {
  await trickle?.close();
  await workers?.stop();
  await api?.close();
  fast?.closeAllConnections();
  fast?.close();
  await db.drop();
});

const trickleUrl = (path: string) => `http://127.0.0.1:${trickle.port}${path}`;
const hook = (tenant: TenantFixture, url: string) =>
  api.ok(
    tenant.adminToken,
    `mutation($u: String!) { createWebhook(url: $u, events: ["SCOPE_CREATED"]) { webhook { id } } }`,
    { u: url },
  );
const createScope = (tenant: TenantFixture, name: string) =>
  api.ok(tenant.adminToken, CreateScopeDocument, { input: { name } });

describe('a receiver answering one byte a second', () => {
  it('is cut off at the total deadline, and the delivery says so', async () => {
    const { createWebhook } = await hook(a, trickleUrl('/deadline'));
    const started = Date.now();
    await createScope(a, 'deadline:x:read');
    const query = `query($id: ID!) { webhookDeliveries(webhookId: $id) { edges { node { attempts lastError lastAttemptAt } } } }`;
    await expect
      .poll(
        async () =>
          (await api.ok(a.adminToken, query, { id: createWebhook.webhook.id })).webhookDeliveries.edges[0]?.node
            .attempts ?? 0,
        { timeout: DEADLINE_MS + 3_000, interval: 100 },
      )
      .toBeGreaterThanOrEqual(1);
    const { node } = (await api.ok(a.adminToken, query, { id: createWebhook.webhook.id })).webhookDeliveries.edges[0];
    expect(node.lastError).toBe(`no complete answer within ${DEADLINE_MS} ms`);
    expect(new Date(node.lastAttemptAt).getTime() - started).toBeLessThan(DEADLINE_MS + 2_000);
    await api.ok(a.adminToken, `mutation($id: ID!) { deleteWebhook(id: $id) }`, { id: createWebhook.webhook.id });
  });
});

describe('fair shares between tenants', () => {
  it('one tenant’s twenty trickling endpoints do not delay another tenant’s delivery', async () => {
    for (let i = 0; i < 20; i++) await hook(a, trickleUrl(`/stuck-${i}`));
    await hook(b, `${fastBase}/b-delivery`);
    await createScope(a, 'stuck:x:read');
    // Tenant A's deliveries are under way: the workers hold as many of them as they will.
    await expect
      .poll(() => trickled.filter((p) => p.startsWith('/stuck-')).length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(4);
    const started = Date.now();
    await createScope(b, 'other:x:read');
    await expect.poll(() => arrived.get('/b-delivery'), { timeout: 10_000, interval: 20 }).toBeDefined();
    const ms = arrived.get('/b-delivery')! - started;
    console.info(
      `fairness: tenant B's delivery arrived ${ms} ms after its event, with tenant A's 20 endpoints trickling`,
    );
    expect(ms).toBeLessThan(2_000);
  }, 30_000);

  it('one tenant’s ten trickling rotators do not stall another tenant’s rotation', async () => {
    const ra = rotationsOf(api, a.adminToken, a.adminId);
    const rb = rotationsOf(api, b.adminToken, b.adminId);
    const stuck: string[] = [];
    for (let i = 0; i < 10; i++) {
      const name = await ra.credential(`a-${i}`);
      expect(
        (await ra.setRotator(name, { kind: 'WEBHOOK', url: trickleUrl(`/rotator-${i}`), gracePeriod: 'PT1H' })).errors,
      ).toBeUndefined();
      stuck.push(name);
    }
    const name = await rb.credential('b-value');
    expect(
      (await rb.setRotator(name, { kind: 'WEBHOOK', url: `${fastBase}/b-rotator`, gracePeriod: 'PT1H' })).errors,
    ).toBeUndefined();
    await Promise.all(stuck.map((n) => api.ok(a.adminToken, RotateCredentialDocument, { name: n })));
    await expect
      .poll(() => trickled.filter((p) => p.startsWith('/rotator-')).length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(4);
    const started = Date.now();
    await api.ok(b.adminToken, RotateCredentialDocument, { name });
    const done = await rb.until(name, 'DONE', 15_000);
    const ms = Date.now() - started;
    console.info(
      `fairness: tenant B's rotation (four steps) was DONE ${ms} ms after it started, with tenant A's 10 rotators trickling`,
    );
    expect(done.versions[0]).toMatchObject({ state: 'CURRENT' });
    expect(ms).toBeLessThan(2_500);
  }, 40_000);
});
