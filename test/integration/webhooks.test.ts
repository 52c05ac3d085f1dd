// Webhooks to a local receiver with real BullMQ workers: signatures checked with a reference
// implementation of Standard Webhooks written here from its published description, retries that
// keep the event id, dead letters, and the SSRF guards: the address rules, DNS pinned, the total deadline.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo, createServer as netServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkers, type Workers } from '../../src/app/worker';
import { Permission } from '../../src/iam/permissions';
import { SecretBox } from '../../src/platform/secret-box';
import { OutboundRefused } from '../../src/outbound/address-rules';
import type { Resolve } from '../../src/outbound/addresses';
import { createOutbound } from '../../src/outbound/outbound';
import { WebhookService } from '../../src/webhooks/webhook.service';
import { metricsOf, startTestApi, type TestApi } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { CreateOwnerDocument, CreateScopeDocument, IssueTokenDocument } from '../generated/graphql';

/**
 * Standard Webhooks, from https://www.standardwebhooks.com/ ("Verifying webhooks"): the signed
 * content is `${webhook-id}.${webhook-timestamp}.${body}`; the key is the base64 part of the
 * secret after "whsec_"; the header holds space-separated "v1,<base64 HMAC-SHA256>" entries.
 */
function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string, toleranceS = 300): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceS) return false;
  const expected = createHmac('sha256', Buffer.from(secret.split('_')[1]!, 'base64'))
    .update(`${id}.${timestamp}.${body}`)
    .digest();
  return signatures.split(' ').some((entry) => {
    const [version, sig] = entry.split(',');
    const given = Buffer.from(sig ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  path: string;
  at: number;
}

let api: TestApi;
let workers: Workers;
let t: TenantFixture;
let receiver: Server;
let base: string;
const received: Received[] = [];
let failUntil = 0; // the receiver answers 500 while Date.now() < failUntil
let redirected = 0;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: `${base}/elsewhere` }).end();
        return;
      }
      if (req.url === '/elsewhere') redirected++;
      received.push({ headers: req.headers, body, path: req.url ?? '', at: Date.now() });
      if (Date.now() < failUntil) res.writeHead(500).end('not now');
      else res.writeHead(204).end();
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => receiver.once('listening', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  api = await startTestApi(); // receivers on 127.0.0.1 allowed, 8 attempts 100 ms apart (global setup)
  workers = await startWorkers(api.container);
  t = await newTenant(api);
});

afterAll(async () => {
  await workers?.stop();
  await api?.close();
  receiver?.close();
});

const r0 = (rows: Array<{ n: number }>) => rows[0]!.n;
/** Outbound HTTP as deliveries use it, with the allow list, deadline, resolver and platform endpoints given. */
const httpOf = (allow: string[], deadlineMs: number, resolve?: Resolve, platformUrls: string[] = []) =>
  createOutbound({ webhookAllow: allow, rotatorAllow: [], deadlineMs, platformUrls }, resolve).http;

const CREATE = `mutation($url: String!, $events: [String!]!) { createWebhook(url: $url, events: $events, description: "test") { signingSecret webhook { id url events status } } }`;

describe('webhook deliveries', () => {
  it('signs every delivery the Standard Webhooks way', async () => {
    const { createWebhook } = await api.ok(t.adminToken, CREATE, {
      url: `${base}/hook/signed`,
      events: ['SCOPE_CREATED'],
    });
    expect(createWebhook.signingSecret).toMatch(/^whsec_/);
    await api.ok(t.adminToken, CreateScopeDocument, { input: { name: 'hooked:x:read' } });
    await expect.poll(() => received.filter((r) => r.path === '/hook/signed').length, { timeout: 10_000 }).toBe(1);
    const hit = received.find((r) => r.path === '/hook/signed')!;
    expect(verifyStandardWebhook(createWebhook.signingSecret, hit.headers, hit.body)).toBe(true);
    expect(verifyStandardWebhook(createWebhook.signingSecret, hit.headers, `${hit.body} `)).toBe(false);
    const payload = JSON.parse(hit.body);
    expect(payload).toMatchObject({
      type: 'SCOPE_CREATED',
      data: { action: 'SCOPE_CREATED', data: { name: 'hooked:x:read' } },
    });
    expect(hit.headers['webhook-id']).toBe(`msg_${payload.data.id}`);
    expect(JSON.stringify(received)).not.toMatch(/lk_[0-9A-Za-z]{49}/);
  });

  it('a receiver that fails for a while gets every event once it recovers, with the same ids', async () => {
    const { createWebhook } = await api.ok(t.adminToken, CREATE, {
      url: `${base}/hook/flaky`,
      events: ['TOKEN_ISSUED'],
    });
    failUntil = Date.now() + 1_500;
    const issued: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { issueToken } = await api.ok(t.adminToken, IssueTokenDocument, {
        input: { ownerId: t.adminId, name: 'w', scopes: [] },
      });
      issued.push(issueToken.token.id);
    }
    const flaky = () => received.filter((r) => r.path === '/hook/flaky');
    const delivered = () =>
      new Set(
        flaky()
          .filter((r) => r.at >= failUntil)
          .map((r) => JSON.parse(r.body).data.targetId),
      );
    await expect.poll(() => issued.every((id) => delivered().has(id)), { timeout: 20_000, interval: 200 }).toBe(true);
    // Each event kept its webhook-id across attempts, and every attempt was signed.
    const idsByEvent = new Map<string, Set<string>>();
    for (const r of flaky()) {
      const e = JSON.parse(r.body).data.id as string;
      if (!idsByEvent.has(e)) idsByEvent.set(e, new Set());
      idsByEvent.get(e)!.add(String(r.headers['webhook-id']));
      expect(verifyStandardWebhook(createWebhook.signingSecret, r.headers, r.body), JSON.stringify(r.headers)).toBe(
        true,
      );
    }
    for (const ids of idsByEvent.values()) expect(ids.size).toBe(1);
    expect(flaky().length).toBeGreaterThan(5); // there were failed attempts
    const m = await metricsOf(api.url);
    expect(m('latchkey_webhook_deliveries_total{outcome="failed"}')).toBeGreaterThan(0);
    expect(m('latchkey_webhook_deliveries_total{outcome="delivered"}')).toBeGreaterThanOrEqual(5);
    const { webhookDeliveries } = await api.ok(
      t.adminToken,
      `query($id: ID!) { webhookDeliveries(webhookId: $id) { totalCount edges { node { status attempts } } } }`,
      { id: createWebhook.webhook.id },
    );
    expect(webhookDeliveries.edges.every((e: { node: { status: string } }) => e.node.status === 'DELIVERED')).toBe(
      true,
    );
  });

  it('dead-letters what never gets through, keeping the last response, and switches the endpoint off', async () => {
    const { createWebhook } = await api.ok(t.adminToken, CREATE, {
      url: `${base}/hook/dead`,
      events: ['SCOPE_CREATED'],
    });
    failUntil = Date.now() + 60_000;
    await api.ok(t.adminToken, CreateScopeDocument, { input: { name: 'dead:x:read' } });
    const query = `query($id: ID!) { webhook(id: $id) { status disabledReason } webhookDeliveries(webhookId: $id, status: DEAD) { edges { node { status attempts lastStatus lastResponse lastError } } } }`;
    await expect
      .poll(
        async () =>
          (await api.ok(t.adminToken, query, { id: createWebhook.webhook.id })).webhookDeliveries.edges.length,
        { timeout: 30_000, interval: 250 },
      )
      .toBe(1);
    const r = await api.ok(t.adminToken, query, { id: createWebhook.webhook.id });
    expect(r.webhookDeliveries.edges[0].node).toMatchObject({
      status: 'DEAD',
      attempts: 8,
      lastStatus: 500,
      lastResponse: 'not now',
    });
    expect(r.webhook.status).toBe('DISABLED');
    const [audit] = await api.sql(
      `SELECT data FROM audit_events WHERE target_id = $1 AND action = 'WEBHOOK_DISABLED'`,
      [createWebhook.webhook.id],
    );
    expect(audit.data.reason).toContain('kept failing');
    failUntil = 0;
  }, 40_000);

  it('sends a test event to the endpoint tested and no other, signed like any event', async () => {
    const { createWebhook } = await api.ok(t.adminToken, CREATE, { url: `${base}/hook/test-me`, events: ['*'] });
    await api.ok(t.adminToken, CREATE, { url: `${base}/hook/bystander`, events: ['*'] });
    const { testWebhook } = await api.ok(
      t.adminToken,
      `mutation($id: ID!) { testWebhook(id: $id) { id action targetId } }`,
      { id: createWebhook.webhook.id },
    );
    expect(testWebhook).toMatchObject({ action: 'WEBHOOK_TESTED', targetId: createWebhook.webhook.id });
    await expect
      .poll(() => received.some((r) => r.path === '/hook/test-me' && JSON.parse(r.body).type === 'WEBHOOK_TESTED'), {
        timeout: 10_000,
        interval: 100,
      })
      .toBe(true);
    const test = received.find((r) => r.path === '/hook/test-me' && JSON.parse(r.body).type === 'WEBHOOK_TESTED')!;
    expect(verifyStandardWebhook(createWebhook.signingSecret, test.headers, test.body)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(received.some((r) => r.path === '/hook/bystander' && JSON.parse(r.body).type === 'WEBHOOK_TESTED')).toBe(
      false,
    );
  });

  it('does not follow redirects', async () => {
    await api.ok(t.adminToken, CREATE, { url: `${base}/redirect`, events: ['OWNER_CREATED'] });
    await api.ok(t.adminToken, CreateOwnerDocument, { input: { kind: 'SERVICE', name: 'redirect-test' } });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(redirected).toBe(0);
  });
});

describe('SSRF guards', () => {
  it('refuses loopback and private targets unless allowed in config', async () => {
    const strict = await startTestApi({ WEBHOOK_ALLOW: '' });
    try {
      const tt = await newTenant(strict);
      for (const url of [
        'http://127.0.0.1:9/x',
        'http://10.0.0.1/x',
        'http://169.254.169.254/latest/meta-data',
        'http://[::1]/x',
        'http://localhost:9/x',
        'ftp://example.com/x',
      ]) {
        const r = await strict.gql(tt.adminToken, CREATE, { url, events: ['*'] });
        expect(r.errors?.[0]?.extensions?.code, url).toBe('BAD_USER_INPUT');
      }
      expect(
        (await strict.sql(`SELECT count(*)::int AS n FROM webhooks WHERE tenant_id = $1`, [tt.tenantId]))[0].n,
      ).toBe(0);
    } finally {
      await strict.close();
    }
  });

  it('refuses event names that are no audit action, writing nothing; accepts a host that does not resolve yet', async () => {
    const tt = await newTenant(api);
    for (const events of [['TOKEN_EXPIRNG'], ['TOKEN_ISSUED', 'NOT_AN_EVENT'], []]) {
      const r = await api.gql(tt.adminToken, CREATE, { url: `${base}/hook/x`, events });
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(events)).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.extensions?.argument).toBe('events');
    }
    expect(r0(await api.sql(`SELECT count(*)::int AS n FROM webhooks WHERE tenant_id = $1`, [tt.tenantId]))).toBe(0);
    // A name that does not resolve yet is accepted (every delivery resolves it again). Resolved by a
    // resolver of the test's own: tests send no DNS query off this machine.
    const c = api.container;
    const notYet = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    const service = new WebhookService(
      c.ds,
      c.services.audit,
      new SecretBox(c.config.keyring.keys, c.config.keyring.activeKeyId),
      httpOf([], 1_000, async () => Promise.reject(notYet)),
    );
    const principal = {
      tenantId: tt.tenantId,
      ownerId: tt.adminId,
      tokenId: tt.adminId,
      permissions: new Set([Permission.WEBHOOK_WRITE]),
    };
    const { webhook } = await service.create(
      principal,
      'https://receiver-not-yet.example/hook',
      ['TOKEN_ISSUED'],
      null,
    );
    expect(webhook.url).toBe('https://receiver-not-yet.example/hook');
    // A private literal is still refused at creation.
    expect(
      (await api.gql(tt.adminToken, CREATE, { url: 'http://10.1.2.3/hook', events: ['*'] })).errors?.[0]?.extensions
        ?.code,
    ).toBe('BAD_USER_INPUT');
  });

  it('refuses a name that resolves to a private address, and one with any private address', async () => {
    const resolve = async (host: string) =>
      host === 'intranet.example'
        ? [{ address: '10.1.2.3', family: 4 }]
        : host === 'mixed.example'
          ? [
              { address: '93.184.216.34', family: 4 },
              { address: '192.168.0.7', family: 4 },
            ]
          : [{ address: '93.184.216.34', family: 4 }];
    const outbound = httpOf([], 1_000, resolve);
    await expect(outbound.vet(new URL('http://intranet.example/hook'))).rejects.toBeInstanceOf(OutboundRefused);
    await expect(outbound.vet(new URL('http://mixed.example/hook'))).rejects.toBeInstanceOf(OutboundRefused);
    await expect(outbound.vet(new URL('http://[::ffff:127.0.0.1]/hook'))).rejects.toBeInstanceOf(OutboundRefused);
    // IPv4-compatible (::/96) and 6to4 (2002::/16) addresses carry an IPv4 address too.
    for (const host of ['[::7f00:1]', '[::a00:1]', '[2002:7f00:1::1]', '[2002:c0a8:1::]']) {
      await expect(outbound.vet(new URL(`http://${host}/hook`)), host).rejects.toBeInstanceOf(OutboundRefused);
    }
    await expect(outbound.vet(new URL('https://public.example/hook'))).resolves.toMatchObject({
      address: '93.184.216.34',
    });
    const allowing = httpOf(['10.0.0.0/8'], 1_000, resolve);
    await expect(allowing.vet(new URL('http://intranet.example/hook'))).resolves.toMatchObject({ address: '10.1.2.3' });
  });

  it('survives a receiver that answers before reading a large body and closes', async () => {
    // It answers as soon as the request starts, keeps the connection open (no Connection: close)
    // as far as HTTP goes, then drops it while the body is still being written.
    const rude = netServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        socket.destroy();
      });
    }).listen(0, '127.0.0.1');
    await new Promise((r) => rude.once('listening', r));
    const uncaught: unknown[] = [];
    const record = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', record);
    try {
      const outbound = httpOf(['127.0.0.1'], 5_000);
      const url = `http://127.0.0.1:${(rude.address() as AddressInfo).port}/`;
      for (let i = 0; i < 10; i++) {
        // Delivered or failed, either is fine; what matters is that the process lives on.
        await outbound.post(url, {}, 'x'.repeat(4 * 1024 * 1024), 1024).catch((err: Error) => err);
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
      rude.close();
    }
  });

  it('refuses oversized subscriptions and descriptions, writing nothing', async () => {
    const tt = await newTenant(api);
    const tooMany = Array.from(
      { length: 101 },
      (_, i) => `EVENT_${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + Math.floor(i / 26))}`,
    );
    for (const [vars, argument] of [
      [{ url: 'http://127.0.0.1:9/x', events: tooMany }, 'events'],
      [{ url: `http://127.0.0.1:9/${'x'.repeat(3000)}`, events: ['*'] }, 'url'],
      [{ url: 'http://127.0.0.1:9/x', events: ['*'], description: 'd'.repeat(1001) }, 'description'],
    ] as const) {
      const r = await api.gql(
        tt.adminToken,
        `mutation($url: String!, $events: [String!]!, $description: String) { createWebhook(url: $url, events: $events, description: $description) { signingSecret } }`,
        vars,
      );
      expect(r.errors?.[0]?.extensions?.code, argument).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0]?.extensions?.argument).toBe(argument);
    }
    expect((await api.sql(`SELECT count(*)::int AS n FROM webhooks WHERE tenant_id = $1`, [tt.tenantId]))[0].n).toBe(0);
  });

  it('cuts off a receiver that trickles its answer at the total deadline, however steadily it trickles', async () => {
    // A byte every 100 ms: no idle timeout would ever fire.
    const trickle = netServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        const answer = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n${'x'.repeat(1000)}`);
        let i = 0;
        const timer = setInterval(
          () => (socket.destroyed ? clearInterval(timer) : socket.write(answer.subarray(i, ++i))),
          100,
        );
        socket.on('close', () => clearInterval(timer));
      });
    }).listen(0, '127.0.0.1');
    await new Promise((r) => trickle.once('listening', r));
    try {
      const started = Date.now();
      await expect(
        httpOf(['127.0.0.1'], 1_000).post(
          `http://127.0.0.1:${(trickle.address() as AddressInfo).port}/`,
          {},
          '{}',
          1024,
        ),
      ).rejects.toThrow('no complete answer within 1000 ms');
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      trickle.close();
    }
  });

  it('connects to the address the rules passed, not to what a second lookup would say', async () => {
    // receiver.test resolves only through the resolver given here: the request cannot have looked it up again.
    const resolve = async (host: string) =>
      host === 'receiver.test' ? [{ address: '127.0.0.1', family: 4 }] : Promise.reject(new Error('not here'));
    const res = await httpOf(['127.0.0.1'], 2_000, resolve).post(
      `http://receiver.test:${new URL(base).port}/hook/pinned`,
      {},
      '{}',
      1024,
    );
    expect(res.status).toBe(204);
    expect(
      received.some((r) => r.path === '/hook/pinned' && r.headers.host === `receiver.test:${new URL(base).port}`),
    ).toBe(true);
  });

  it('refuses Latchkey’s own Postgres and Redis at every call, whatever the allow list says, without connecting', async () => {
    let accepted = 0;
    const platform = netServer((socket) => {
      accepted++;
      socket.destroy();
    }).listen(0, '127.0.0.1');
    await new Promise((r) => platform.once('listening', r));
    const port = (platform.address() as AddressInfo).port;
    try {
      const outbound = httpOf(['127.0.0.1', '::1', 'localhost'], 1_000, undefined, [
        `postgres://postgres@localhost:${port}/latchkey`,
      ]);
      for (const host of ['127.0.0.1', 'localhost', '[::1]', '[::ffff:127.0.0.1]', '0.0.0.0', '127.0.0.2']) {
        await expect(outbound.post(`http://${host}:${port}/`, {}, '{}', 1024), host).rejects.toBeInstanceOf(
          OutboundRefused,
        );
      }
      expect(accepted).toBe(0);
    } finally {
      platform.close();
    }
  });
});
