// Rotators with real BullMQ workers: a webhook rotator run over HTTP that fails at each step in
// turn, concurrent starts, a rotation abandoned past its deadline, a 64 KiB value, bad settings
// refused; and the built-in rotators against a Postgres that checks passwords and a Redis of the
// test's own (which ROTATOR_ALLOW lists by port): the new value connects, the old one keeps
// working through the grace and is refused after it, every use of the privileged connection is in
// its history, and setting one takes a grant on that connection.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo, createServer as tcpServer, type Server as TcpServer } from 'node:net';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPg } from '../../scripts/shared/infra';
import { startWorkers, type Workers } from '../../src/app/worker';
import { startTestApi, type TestApi } from '../helpers/api';
import { newPrincipal, newTenant, type TenantFixture, unique } from '../helpers/fixtures';
import { ownRedisPrefix } from '../helpers/own-database';
import { type PgProcess, startPgProcess } from '../helpers/pg-process';
import { type RedisProcess, startRedisProcess } from '../helpers/redis-process';
import {
  CreateCredentialDocument,
  CreateRoleDocument,
  GrantCredentialDocument,
  RevealCredentialDocument,
  RotateCredentialDocument,
} from '../generated/graphql';

let api: TestApi;
let workers: Workers;
let t: TenantFixture;
let rotator: Server;
let base: string;
let pg: PgProcess;
let redisServer: RedisProcess;
/** A server that is not the rotators' database, allowed by ROTATOR_ALLOW: it counts who connects to it. */
let elsewhere: TcpServer;
let elsewherePort: number;
let elsewhereConnections = 0;
/** The value the rotator's `create` answers with, unless a test says otherwise. */
let createAnswer: (() => string) | null = null;
/** The step the rotator answers 500 to, and how long it takes to answer `set`. */
let failAt: string | null = null;
let setDelayMs = 0;
const calls: Array<{ step: string; rotationId: string; headers: IncomingHttpHeaders; body: string }> = [];

const SET = `mutation($n: String!, $i: SetCredentialRotatorInput!) { setCredentialRotator(name: $n, input: $i) { signingSecret credential { nextRotationAt } } }`;
const STATE = `query($n: String!) { credential(name: $n) { rotations { id state step failure pendingVersion } versions { edges { node { version state } } } } }`;

/** The credential with its newest versions as a list. */
const latest = async (name: string) => {
  const { credential } = await api.ok(t.adminToken, STATE, { n: name });
  return { ...credential, versions: credential.versions.edges.map((e: { node: unknown }) => e.node) };
};
const until = async (name: string, state: string) => {
  await expect
    .poll(async () => (await latest(name)).rotations[0]?.state, { timeout: 20_000, interval: 100 })
    .toBe(state);
  return latest(name);
};
const reveal = async (name: string) =>
  (await api.ok(t.adminToken, RevealCredentialDocument, { name })).revealCredential;

async function credential(value: string): Promise<string> {
  const name = unique('cred').toLowerCase();
  await api.ok(t.adminToken, CreateCredentialDocument, { input: { name, value } });
  await api.ok(t.adminToken, GrantCredentialDocument, { name, ownerId: t.adminId });
  return name;
}

beforeAll(async () => {
  let n = 0;
  rotator = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => void answer());
    const answer = async () => {
      const msg = JSON.parse(body);
      calls.push({ step: msg.step, rotationId: msg.rotationId, headers: req.headers, body });
      if (msg.step === 'set' && setDelayMs) await new Promise((r) => setTimeout(r, setDelayMs));
      if (msg.step === failAt) return res.writeHead(500).end('rotator says no');
      if (msg.step === 'create')
        return res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(createAnswer?.() ?? JSON.stringify({ value: `vendor-value-${++n}` }));
      res.writeHead(204).end();
    };
  }).listen(0, '127.0.0.1');
  await new Promise((r) => rotator.once('listening', r));
  base = `http://127.0.0.1:${(rotator.address() as AddressInfo).port}`;
  [pg, redisServer] = await Promise.all([startPgProcess(), startRedisProcess()]);
  await redisServer.start();
  elsewhere = tcpServer((socket) => {
    elsewhereConnections++;
    socket.destroy();
  }).listen(0, '127.0.0.1');
  await new Promise((r) => elsewhere.once('listening', r));
  elsewherePort = (elsewhere.address() as AddressInfo).port;
  const allow = `127.0.0.1:${pg.port},127.0.0.1:${new URL(redisServer.url).port},127.0.0.1:${elsewherePort}`;
  api = await startTestApi({
    REDIS_PREFIX: ownRedisPrefix('rotators'),
    ROTATOR_ATTEMPTS: '2',
    ROTATOR_BACKOFF_MS: '50',
    PLANNER_TICK_MS: '200',
    ROTATOR_ALLOW: allow,
  });
  workers = await startWorkers(api.container);
  t = await newTenant(api);
});

afterAll(async () => {
  elsewhere?.close();
  await workers?.stop();
  await api?.close();
  rotator?.close();
  pg?.stop();
  await redisServer?.kill();
});

describe('the webhook rotator', () => {
  it('walks create, set, test and finish, signed, and makes the value it created CURRENT', async () => {
    const name = await credential('hand-made');
    const { setCredentialRotator } = await api.ok(t.adminToken, SET, {
      n: name,
      i: { kind: 'WEBHOOK', url: `${base}/rotate`, gracePeriod: 'PT1H' },
    });
    const secret = setCredentialRotator.signingSecret as string;
    expect(secret).toMatch(/^whsec_/);
    const { rotateCredential } = await api.ok(t.adminToken, RotateCredentialDocument, { name });
    const done = await until(name, 'DONE');
    expect(done.versions).toEqual([
      { version: 2, state: 'CURRENT' },
      { version: 1, state: 'PREVIOUS' },
    ]);
    const mine = calls.filter((c) => c.rotationId === rotateCredential.id);
    expect(mine.map((c) => c.step)).toEqual(['create', 'set', 'test', 'finish']);
    for (const c of mine) {
      const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
        .update(`${c.headers['webhook-id']}.${c.headers['webhook-timestamp']}.${c.body}`)
        .digest('base64');
      expect(c.headers['webhook-signature']).toBe(`v1,${expected}`);
    }
    expect(JSON.parse(mine[1]!.body).value).toMatch(/^vendor-value-/);
    const value = (await reveal(name)).value;
    expect(value).toBe(JSON.parse(mine[1]!.body).value);
    const events = await api.sql(
      `SELECT action, data FROM audit_events WHERE target_id = (SELECT id FROM credentials WHERE tenant_id = $1 AND name = $2) ORDER BY seq`,
      [t.tenantId, name],
    );
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        'CREDENTIAL_ROTATOR_SET',
        'CREDENTIAL_ROTATION_STARTED',
        'CREDENTIAL_VERSION_ADDED',
        'CREDENTIAL_ROTATED',
      ]),
    );
    expect(JSON.stringify(events)).not.toContain(value);
  });

  for (const step of ['create', 'set', 'test', 'finish']) {
    it(`failing at ${step} leaves CURRENT untouched, keeps what it made sealed, and says so`, async () => {
      const name = await credential(`before-${step}`);
      await api.ok(t.adminToken, SET, { n: name, i: { kind: 'WEBHOOK', url: `${base}/rotate`, gracePeriod: 'PT1H' } });
      failAt = step;
      try {
        await api.ok(t.adminToken, RotateCredentialDocument, { name });
        const failed = await until(name, 'FAILED');
        expect(failed.rotations[0]).toMatchObject({ step, failure: `${step}: the rotator answered 500` });
        expect(failed.versions).toEqual([
          ...(step === 'create' ? [] : [{ version: 2, state: 'PENDING' }]),
          { version: 1, state: 'CURRENT' },
        ]);
        expect(await reveal(name)).toEqual({ version: 1, value: `before-${step}` });
        const [event] = await api.sql(
          `SELECT data FROM audit_events WHERE action = 'CREDENTIAL_ROTATION_FAILED' AND data->>'name' = $1`,
          [name],
        );
        expect(event.data).toMatchObject({ step, reason: `${step}: the rotator answered 500` });
      } finally {
        failAt = null;
      }
      // The next rotation replaces what the failed one left, and goes through.
      await api.ok(t.adminToken, RotateCredentialDocument, { name });
      const done = await until(name, 'DONE');
      expect(done.versions[0]).toMatchObject({ state: 'CURRENT' });
      expect(done.versions.filter((v: { state: string }) => v.state === 'PENDING')).toEqual([]);
    });
  }

  it('runs one rotation of a credential at a time', async () => {
    const name = await credential('concurrent');
    await api.ok(t.adminToken, SET, { n: name, i: { kind: 'WEBHOOK', url: `${base}/rotate`, gracePeriod: 'PT1H' } });
    setDelayMs = 500;
    try {
      const results = await Promise.all(
        Array.from({ length: 5 }, () => api.gql(t.adminToken, RotateCredentialDocument, { name })),
      );
      expect(results.filter((r) => !r.errors)).toHaveLength(1);
      expect(results.filter((r) => r.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(4);
      const done = await until(name, 'DONE');
      expect(done.versions.filter((v: { state: string }) => v.state === 'CURRENT')).toHaveLength(1);
    } finally {
      setDelayMs = 0;
    }
  });

  it('takes a value of the documented 64 KiB from create, however the answer escapes it, and refuses a larger one', async () => {
    const name = await credential('small');
    await api.ok(t.adminToken, SET, { n: name, i: { kind: 'WEBHOOK', url: `${base}/rotate`, gracePeriod: 'PT1H' } });
    // 32,768 × "é": 64 KiB of UTF-8, written as \u00e9 escapes (as Python's json.dumps does): 192 KiB of answer.
    const value = 'é'.repeat(32_768);
    createAnswer = () => `{"value": "${'\\u00e9'.repeat(32_768)}"}`;
    try {
      await api.ok(t.adminToken, RotateCredentialDocument, { name });
      await until(name, 'DONE');
      const revealed = await reveal(name);
      expect(Buffer.byteLength(revealed.value)).toBe(65_536);
      expect(revealed.value).toBe(value);
      createAnswer = () => JSON.stringify({ value: `${value}x` });
      await api.ok(t.adminToken, RotateCredentialDocument, { name });
      expect((await until(name, 'FAILED')).rotations[0].failure).toBe(
        'create: the answer holds no "value" of 1 byte to 64 KiB',
      );
    } finally {
      createAnswer = null;
    }
  });

  it('abandons a rotation stuck past its deadline, destroying what it made', async () => {
    const name = await credential('stuck');
    await api.ok(t.adminToken, SET, { n: name, i: { kind: 'WEBHOOK', url: `${base}/rotate`, gracePeriod: 'PT1H' } });
    setDelayMs = 3_000;
    try {
      const { rotateCredential } = await api.ok(t.adminToken, RotateCredentialDocument, { name });
      await expect.poll(async () => (await latest(name)).rotations[0].step, { timeout: 10_000 }).toBe('set');
      await api.sql(`UPDATE credential_rotations SET deadline = now() - interval '1 second' WHERE id = $1`, [
        rotateCredential.id,
      ]);
      const abandoned = await until(name, 'ABANDONED');
      expect(abandoned.versions).toEqual([
        { version: 2, state: 'RETIRED' },
        { version: 1, state: 'CURRENT' },
      ]);
      expect(await reveal(name)).toEqual({ version: 1, value: 'stuck' });
      expect(
        await api.sql(
          `SELECT 1 FROM audit_events WHERE action = 'CREDENTIAL_ROTATION_ABANDONED' AND data->>'rotationId' = $1`,
          [rotateCredential.id],
        ),
      ).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 3_500)); // the slow set answers; its rotation has ended
      expect((await latest(name)).versions.filter((v: { state: string }) => v.state === 'CURRENT')).toEqual([
        { version: 1, state: 'CURRENT' },
      ]);
    } finally {
      setDelayMs = 0;
    }
  });

  it('refuses bad settings with a typed error and changes nothing', async () => {
    const name = await credential('settings');
    const cases: Array<Record<string, unknown>> = [
      { kind: 'WEBHOOK', url: 'http://10.1.2.3/rotate', gracePeriod: 'PT1H' },
      { kind: 'WEBHOOK', gracePeriod: 'PT1H' },
      { kind: 'WEBHOOK', url: `${base}/rotate`, gracePeriod: 'P2D', rotateEvery: 'P1D' },
      { kind: 'POSTGRES', connection: name, roles: ['app_a', 'app_a'], gracePeriod: 'PT1H' },
      { kind: 'REDIS', connection: name, gracePeriod: 'PT1H' },
      { kind: 'REDIS', connection: 'x', gracePeriod: 'PT0S' },
    ];
    const before = await api.sql(`SELECT rotator, updated_at FROM credentials WHERE tenant_id = $1 AND name = $2`, [
      t.tenantId,
      name,
    ]);
    for (const i of cases) {
      const r = await api.gql(t.adminToken, SET, { n: name, i });
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(i)).toBe('BAD_USER_INPUT');
    }
    expect(
      (await api.gql(t.adminToken, SET, { n: name, i: { kind: 'LAMBDA', gracePeriod: 'PT1H' } })).errors?.[0]
        ?.extensions?.code,
    ).toBe('BAD_USER_INPUT');
    // A connection that does not exist is refused as one the caller is not granted on.
    const missing = await api.gql(t.adminToken, SET, {
      n: name,
      i: { kind: 'POSTGRES', connection: 'no-such-connection', roles: ['app_a', 'app_b'], gracePeriod: 'PT1H' },
    });
    expect(missing.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', argument: 'connection' });
    expect((await api.gql(t.adminToken, RotateCredentialDocument, { name })).errors?.[0]?.extensions?.code).toBe(
      'CONFLICT',
    );
    expect(
      await api.sql(`SELECT rotator, updated_at FROM credentials WHERE tenant_id = $1 AND name = $2`, [
        t.tenantId,
        name,
      ]),
    ).toEqual(before);
  });
});

describe('the built-in rotators', () => {
  /** The CREDENTIAL_USED events in a connection's history, oldest first. */
  const used = async (connection: string) =>
    (
      await api.sql(
        `SELECT data FROM audit_events WHERE action = 'CREDENTIAL_USED' AND target_id = (SELECT id FROM credentials WHERE tenant_id = $1 AND name = $2) ORDER BY seq`,
        [t.tenantId, connection],
      )
    ).map((e) => e.data as { name: string; credential: string; step: string; rotationId: string | null });
  const pgAs = async (url: string) => {
    const c = new Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  /** Authenticates as the URL's user on a fresh connection, and pings: the server's own answer. */
  const redisAs = async (url: string) => {
    const u = new URL(url);
    const r = new Redis(`redis://127.0.0.1:${u.port}`, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    r.on('error', () => undefined);
    try {
      await r.connect();
      await r.call('AUTH', decodeURIComponent(u.username), decodeURIComponent(u.password));
      return await r.ping();
    } catch (err) {
      return (err as Error).message;
    } finally {
      r.disconnect();
    }
  };

  it('Postgres: the other role gets a new password; the old value works through the grace and is refused after it', async () => {
    await withPg(pg.adminUrl, (admin) =>
      admin.query(
        `CREATE ROLE app_a LOGIN PASSWORD 'first-password'; CREATE ROLE app_b LOGIN PASSWORD 'unknown-to-anyone'`,
      ),
    );
    const connection = await credential(pg.adminUrl);
    const first = `postgres://app_a:first-password@127.0.0.1:${pg.port}/postgres`;
    const name = await credential(first);
    await api.ok(t.adminToken, SET, {
      n: name,
      i: { kind: 'POSTGRES', connection, roles: ['app_a', 'app_b'], gracePeriod: 'PT2S' },
    });
    await api.ok(t.adminToken, RotateCredentialDocument, { name });
    await until(name, 'DONE');
    const next = (await reveal(name)).value as string;
    expect(new URL(next).username).toBe('app_b');
    expect(await pgAs(next)).toBe('ok');
    expect(await pgAs(first)).toBe('ok'); // in its grace
    await expect
      .poll(async () => (await latest(name)).versions.find((v: { version: number }) => v.version === 1).state, {
        timeout: 15_000,
      })
      .toBe('RETIRED');
    expect(await pgAs(first)).toMatch(/password authentication failed for user "app_a"/);
    expect(await pgAs(next)).toBe('ok');
    // Each step that opened the privileged connection is in its history: set, and retire at the grace's
    // end (more than once if a worker of another test file, whose rules refuse this Postgres, tried first).
    await expect
      .poll(async () => [...new Set((await used(connection)).map((e) => e.step))], { timeout: 5_000 })
      .toEqual(['set', 'retire']);
    for (const e of await used(connection))
      expect(e).toMatchObject({ name: connection, credential: name, rotationId: expect.any(String) });
    // The next rotation goes back to app_a, with a password nobody had.
    await api.ok(t.adminToken, RotateCredentialDocument, { name });
    await until(name, 'DONE');
    const third = (await reveal(name)).value as string;
    expect(new URL(third).username).toBe('app_a');
    expect(await pgAs(third)).toBe('ok');
  });

  it('Redis: the ACL user holds both passwords through the grace, then only the new one', async () => {
    const admin = new Redis(redisServer.url);
    await admin.call('ACL', 'SETUSER', 'dashboard', 'on', '>first-password', '~*', '+@all');
    await admin.quit();
    const connection = await credential(redisServer.url);
    const port = new URL(redisServer.url).port;
    const first = `redis://dashboard:first-password@127.0.0.1:${port}`;
    const name = await credential(first);
    await api.ok(t.adminToken, SET, { n: name, i: { kind: 'REDIS', connection, gracePeriod: 'PT2S' } });
    await api.ok(t.adminToken, RotateCredentialDocument, { name });
    await until(name, 'DONE');
    const next = (await reveal(name)).value as string;
    expect(new URL(next).password).not.toBe('first-password');
    expect(await redisAs(next)).toBe('PONG');
    expect(await redisAs(first)).toBe('PONG'); // in its grace
    await expect
      .poll(async () => (await latest(name)).versions.find((v: { version: number }) => v.version === 1).state, {
        timeout: 15_000,
      })
      .toBe('RETIRED');
    expect(await redisAs(first)).toMatch(/WRONGPASS/);
    expect(await redisAs(next)).toBe('PONG');
    await expect
      .poll(async () => [...new Set((await used(connection)).map((e) => e.step))], { timeout: 5_000 })
      .toEqual(['set', 'retire']);
  });

  it('a writer who cannot read them rewrites the rotated value, or the connection, to another server: the rotation fails at set and nothing reaches that server', async () => {
    await withPg(pg.adminUrl, (admin) =>
      admin.query(`CREATE ROLE pin_a LOGIN PASSWORD 'pin-first'; CREATE ROLE pin_b LOGIN PASSWORD 'pin-unknown'`),
    );
    await api.ok(t.adminToken, CreateRoleDocument, {
      input: { name: 'value-writer', permissions: ['CREDENTIAL_WRITE'] },
    });
    const writer = await newPrincipal(api, t.adminToken, ['value-writer']);
    const ADD = `mutation($n: String!, $v: String!) { addCredentialVersion(input: { name: $n, value: $v, gracePeriod: "PT0S" }) { version } }`;
    for (const rewrite of ['value', 'connection'] as const) {
      const connection = await credential(pg.adminUrl);
      const name = await credential(`postgres://pin_a:pin-first@127.0.0.1:${pg.port}/postgres`);
      await api.ok(t.adminToken, SET, {
        n: name,
        i: { kind: 'POSTGRES', connection, roles: ['pin_a', 'pin_b'], gracePeriod: 'PT1M' },
      });
      const before = elsewhereConnections;
      const target = rewrite === 'value' ? name : connection;
      const user = rewrite === 'value' ? 'pin_a' : 'postgres';
      await api.ok(writer.token, ADD, { n: target, v: `postgres://${user}:x@127.0.0.1:${elsewherePort}/postgres` });
      await api.ok(writer.token, RotateCredentialDocument, { name });
      const failed = await until(name, 'FAILED');
      expect(failed.rotations[0].failure, rewrite).toBe(
        'set: refused: the value points at another server than its privileged connection',
      );
      expect(elsewhereConnections, rewrite).toBe(before);
      // The role in the real database kept its password.
      expect(await pgAs(`postgres://pin_a:pin-first@127.0.0.1:${pg.port}/postgres`)).toBe('ok');
    }
    // And set up that way from the start, the rotator is refused when it is set.
    const name = await credential(`postgres://pin_a:pin-first@127.0.0.1:${elsewherePort}/postgres`);
    const r = await api.gql(t.adminToken, SET, {
      n: name,
      i: {
        kind: 'POSTGRES',
        connection: await credential(pg.adminUrl),
        roles: ['pin_a', 'pin_b'],
        gracePeriod: 'PT1M',
      },
    });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'connection' });
    expect(r.errors?.[0]?.message).toMatch(/points at another server than its privileged connection/);
  });

  it('takes a grant on the privileged connection: a writer who cannot read it cannot use it, and nothing changes', async () => {
    const connection = await credential(pg.adminUrl);
    await api.ok(t.adminToken, CreateRoleDocument, {
      input: { name: 'credential-writer', permissions: ['CREDENTIAL_WRITE'] },
    });
    const writer = await newPrincipal(api, t.adminToken, ['credential-writer']);
    expect(
      (await api.gql(writer.token, RevealCredentialDocument, { name: connection })).errors?.[0]?.extensions?.code,
    ).toBe('FORBIDDEN');
    // The writer's own credential, naming a role it wants a password for.
    const name = unique('mine').toLowerCase();
    await api.ok(writer.token, CreateCredentialDocument, {
      input: { name, value: `postgres://victim_a:x@127.0.0.1:${pg.port}/postgres` },
    });
    const before = await api.sql(`SELECT rotator, updated_at FROM credentials WHERE tenant_id = $1 AND name = $2`, [
      t.tenantId,
      name,
    ]);
    for (const conn of [connection, 'no-such-connection']) {
      const r = await api.gql(writer.token, SET, {
        n: name,
        i: { kind: 'POSTGRES', connection: conn, roles: ['victim_a', 'victim_b'], gracePeriod: 'PT1M' },
      });
      expect(r.errors?.[0]?.extensions, conn).toMatchObject({ code: 'FORBIDDEN', argument: 'connection' });
      expect(r.errors?.[0]?.message).not.toContain('postgres://');
    }
    expect(
      await api.sql(`SELECT rotator, updated_at FROM credentials WHERE tenant_id = $1 AND name = $2`, [
        t.tenantId,
        name,
      ]),
    ).toEqual(before);
    expect(
      await api.sql(`SELECT 1 FROM audit_events WHERE action = 'CREDENTIAL_ROTATOR_SET' AND data->>'name' = $1`, [
        name,
      ]),
    ).toEqual([]);
    // Granted on it (and on its own credential, which a rotator change also takes), the same writer may.
    for (const n of [connection, name])
      await api.ok(t.adminToken, GrantCredentialDocument, { name: n, ownerId: writer.ownerId });
    const granted = await api.gql(writer.token, SET, {
      n: name,
      i: { kind: 'POSTGRES', connection, roles: ['victim_a', 'victim_b'], gracePeriod: 'PT1M' },
    });
    expect(granted.errors).toBeUndefined();
  });
});
