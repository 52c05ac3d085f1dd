// Where built-in rotators may connect, against a database of this file's own with workers: never
// to Latchkey's own Postgres and Redis, in any form of their address and whatever ROTATOR_ALLOW
// says, neither when the rotator is set nor when it connects (nothing there changes); private,
// metadata, socket and file-reading forms refused before any connection; failures said as a step
// and a category, never the driver's words. Every connection any of this makes goes to loopback.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, freePort, withPg } from '../../scripts/shared/infra';
import { startWorkers, type Workers } from '../../src/app/worker';
import { startTestApi, type TestApi, testEnv } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { ownDatabase } from '../helpers/own-database';
import { type PgProcess, startPgProcess } from '../helpers/pg-process';
import { type RedisProcess, startRedisProcess } from '../helpers/redis-process';
import { type Listener, listener, type Rotations, rotationsOf } from '../helpers/rotations';
import { RotateCredentialDocument } from '../generated/graphql';

const db = ownDatabase('reach');
/** Every loopback form, and a metadata address: none of them makes Latchkey's own servers reachable. */
const ALLOW = '127.0.0.1,::1,0.0.0.0,localhost,169.254.169.254';
let api: TestApi;
let strict: TestApi;
let workers: Workers;
let t: TenantFixture;
let r: Rotations;
let pg: PgProcess;
let redisServer: RedisProcess;
let silent: Listener;
let probe: Listener;
let closed: number;
let platformRedis: { url: string; port: number };
let platformPg: { admin: string; port: number };

const hex = () => randomBytes(3).toString('hex');
const PG_ADMIN = 'lk_admin:right-password';

beforeAll(async () => {
  const env = testEnv();
  platformRedis = { url: env.REDIS_URL!, port: Number(new URL(env.REDIS_URL!).port || 6379) };
  const admin = databaseUrl(env.DATABASE_URL!, 'postgres');
  platformPg = { admin, port: Number(new URL(admin).port || 5432) };
  [pg, redisServer] = await Promise.all([startPgProcess(), startRedisProcess()]);
  await withPg(pg.adminUrl, (admin) =>
    admin.query(
      `CREATE ROLE lk_admin LOGIN SUPERUSER PASSWORD 'right-password'; CREATE ROLE app_a LOGIN PASSWORD 'first'; CREATE ROLE app_b LOGIN PASSWORD 'unknown'`,
    ),
  );
  const redisAdmin = new Redis(redisServer.url);
  await redisAdmin.call('ACL', 'SETUSER', 'lk_admin', 'on', '>right-password', '~*', '+@all');
  await redisAdmin.call('ACL', 'SETUSER', 'dashboard', 'on', '>first', '~*', '+@all');
  await redisAdmin.quit();
  silent = await listener();
  probe = await listener('127.0.0.2');
  closed = await freePort();
  const settings = {
    ROTATOR_ATTEMPTS: '1',
    ROTATOR_BACKOFF_MS: '50',
    PLANNER_TICK_MS: '200',
    OUTBOUND_DEADLINE_MS: '1500',
  };
  api = await startTestApi({ ...db.env, ...settings, ROTATOR_ALLOW: ALLOW });
  strict = await startTestApi({ ...db.env, ...settings, ROTATOR_ALLOW: '' });
  workers = await startWorkers(api.container);
  t = await newTenant(api, db.bootstrapToken());
  r = rotationsOf(api, t.adminToken, t.adminId);
});

afterAll(async () => {
  await silent?.close();
  await probe?.close();
  await workers?.stop();
  await api?.close();
  await strict?.close();
  pg?.stop();
  await redisServer?.kill();
  await db.drop();
});

const redisPort = () => new URL(redisServer.url).port;
const expectRefused = async (name: string, input: Record<string, unknown>, argument: string, on: TestApi = api) => {
  const res = await on.gql(
    t.adminToken,
    `mutation($n: String!, $i: SetCredentialRotatorInput!) { setCredentialRotator(name: $n, input: $i) { signingSecret } }`,
    { n: name, i: input },
  );
  expect(res.errors?.[0]?.extensions, JSON.stringify(input)).toMatchObject({ code: 'BAD_USER_INPUT', argument });
};
/** Nothing was set: no rotator on these credentials, no CREDENTIAL_ROTATOR_SET in their history. */
const expectUnchanged = async (names: string[]) => {
  const rows = await api.sql(`SELECT name, rotator FROM credentials WHERE tenant_id = $1 AND name = ANY($2)`, [
    t.tenantId,
    names,
  ]);
  expect(rows.filter((c) => c.rotator !== null)).toEqual([]);
  const set = await api.sql(
    `SELECT 1 FROM audit_events WHERE tenant_id = $1 AND action = 'CREDENTIAL_ROTATOR_SET' AND data->>'name' = ANY($2)`,
    [t.tenantId, names],
  );
  expect(set).toEqual([]);
};

/** The platform Redis as its own clients see it: the default user's ACL, and a PING that needs no password. */
async function platformRedisState(probeUser: string) {
  const redis = new Redis(platformRedis.url);
  try {
    return {
      defaultUser: await redis.call('ACL', 'GETUSER', 'default'),
      probe: await redis.call('ACL', 'GETUSER', probeUser),
      ping: await redis.ping(),
    };
  } finally {
    redis.disconnect();
  }
}

const onPlatformPg = <T>(work: (c: Client) => Promise<T>): Promise<T> => withPg(platformPg.admin, work);

describe("Latchkey's own Redis and Postgres", () => {
  it('a REDIS rotator aimed at Latchkey’s own Redis is refused when it is set, in every form, whatever ROTATOR_ALLOW says', async () => {
    const before = await platformRedisState('lk_probe_none');
    const p = platformRedis.port;
    const rotated = await r.credential(`redis://dashboard:first@127.0.0.1:${redisPort()}`);
    const connections: string[] = [];
    for (const form of [
      `redis://127.0.0.1:${p}`,
      `redis://localhost:${p}`,
      `redis://[::1]:${p}`,
      `redis://0.0.0.0:${p}`,
      `redis://[::ffff:127.0.0.1]:${p}`,
      `redis://default@127.0.0.1:${p}/0`,
    ]) {
      const connection = await r.credential(form);
      connections.push(connection);
      await expectRefused(rotated, { kind: 'REDIS', connection, gracePeriod: 'PT1M' }, 'connection');
    }
    // The rotated value aimed at it is refused too: its `test` step would connect there.
    const good = await r.credential(`redis://${PG_ADMIN}@127.0.0.1:${redisPort()}`);
    const aimed = await r.credential(`redis://lk_probe:x@localhost:${p}`);
    await expectRefused(aimed, { kind: 'REDIS', connection: good, gracePeriod: 'PT1M' }, 'name');
    await expectUnchanged([rotated, aimed, ...connections]);
    expect(await platformRedisState('lk_probe_none')).toEqual(before);
  });

  it('a REDIS rotator whose connection is changed to Latchkey’s own Redis fails at set, refused by the address rules, and the platform Redis is unchanged', async () => {
    const user = `lk_probe_${hex()}`;
    const before = await platformRedisState(user);
    expect(before).toMatchObject({ probe: null, ping: 'PONG' });
    const connection = await r.credential(`redis://${PG_ADMIN}@127.0.0.1:${redisPort()}`);
    const name = await r.credential(`redis://${user}:first@127.0.0.1:${redisPort()}`);
    expect((await r.setRotator(name, { kind: 'REDIS', connection, gracePeriod: 'PT1M' })).errors).toBeUndefined();
    // Both moved there (a rotator sets passwords only where its connection is, so moving one alone is refused before that).
    await r.addVersion(connection, `redis://127.0.0.1:${platformRedis.port}`);
    await r.addVersion(name, `redis://${user}:first@127.0.0.1:${platformRedis.port}`);
    try {
      await api.ok(t.adminToken, RotateCredentialDocument, { name });
      const failed = await r.until(name, 'FAILED');
      expect(failed.rotations[0]).toMatchObject({ step: 'set', failure: 'set: refused by address rules' });
      expect(await platformRedisState(user)).toEqual(before);
    } finally {
      const redis = new Redis(platformRedis.url);
      await redis.call('ACL', 'DELUSER', user);
      redis.disconnect();
    }
  });

  it('a POSTGRES rotator aimed at Latchkey’s own Postgres is refused when it is set, in every form, whatever ROTATOR_ALLOW says', async () => {
    const p = platformPg.port;
    const rotated = await r.credential(`postgres://app_a:first@127.0.0.1:${pg.port}/postgres`);
    const connections: string[] = [];
    for (const host of ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]']) {
      const connection = await r.credential(`postgres://postgres@${host}:${p}/postgres`);
      connections.push(connection);
      await expectRefused(
        rotated,
        { kind: 'POSTGRES', connection, roles: ['app_a', 'app_b'], gracePeriod: 'PT1M' },
        'connection',
      );
    }
    const good = await r.credential(`postgres://${PG_ADMIN}@127.0.0.1:${pg.port}/postgres`);
    const aimed = await r.credential(`postgresql://app_a:first@localhost:${p}/postgres?sslmode=disable`);
    await expectRefused(
      aimed,
      { kind: 'POSTGRES', connection: good, roles: ['app_a', 'app_b'], gracePeriod: 'PT1M' },
      'name',
    );
    await expectUnchanged([rotated, aimed, ...connections]);
  });

  it('a POSTGRES rotator whose connection is changed to Latchkey’s own Postgres fails at set, refused by the address rules, and no role there changes', async () => {
    const [a, b] = [`lk_probe_a_${hex()}`, `lk_probe_b_${hex()}`];
    const password = async () =>
      onPlatformPg(
        async (c) =>
          (await c.query(`SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1) ORDER BY 1`, [[a, b]]))
            .rows,
      );
    await onPlatformPg((c) =>
      c.query(`CREATE ROLE ${a} LOGIN PASSWORD 'probe-a'; CREATE ROLE ${b} LOGIN PASSWORD 'probe-b'`),
    );
    try {
      const before = await password();
      expect(before).toHaveLength(2);
      const connection = await r.credential(`postgres://${PG_ADMIN}@127.0.0.1:${pg.port}/postgres`);
      const name = await r.credential(`postgres://${a}:first@127.0.0.1:${pg.port}/postgres`);
      expect(
        (await r.setRotator(name, { kind: 'POSTGRES', connection, roles: [a, b], gracePeriod: 'PT1M' })).errors,
      ).toBeUndefined();
      // Both moved there (a rotator sets passwords only where its connection is, so moving one alone is refused before that).
      await r.addVersion(connection, `postgres://postgres@127.0.0.1:${platformPg.port}/postgres`);
      await r.addVersion(name, `postgres://${a}:first@127.0.0.1:${platformPg.port}/postgres`);
      await api.ok(t.adminToken, RotateCredentialDocument, { name });
      const failed = await r.until(name, 'FAILED');
      expect(failed.rotations[0]).toMatchObject({ step: 'set', failure: 'set: refused by address rules' });
      expect(await password()).toEqual(before);
    } finally {
      await onPlatformPg((c) => c.query(`DROP ROLE IF EXISTS ${a}; DROP ROLE IF EXISTS ${b}`));
    }
  });

  it('a webhook rotator or a webhook aimed at Latchkey’s own Postgres or Redis is refused, although WEBHOOK_ALLOW lists 127.0.0.1', async () => {
    const name = await r.credential('webhook-rotated');
    const urls = [
      `http://127.0.0.1:${platformRedis.port}/`,
      `http://localhost:${platformPg.port}/rotate`,
      `http://[::ffff:127.0.0.1]:${platformRedis.port}/`,
    ];
    for (const url of urls) {
      await expectRefused(name, { kind: 'WEBHOOK', url, gracePeriod: 'PT1H' }, 'url');
      const hook = await api.gql(
        t.adminToken,
        `mutation($u: String!) { createWebhook(url: $u, events: ["WEBHOOK_TESTED"]) { signingSecret } }`,
        { u: url },
      );
      expect(hook.errors?.[0]?.extensions, url).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'url' });
    }
    await expectUnchanged([name]);
    expect(await api.sql(`SELECT 1 FROM webhooks WHERE tenant_id = $1`, [t.tenantId])).toEqual([]);
  });
});

describe('the address rules of built-in rotators', () => {
  it('refuse loopback, private, link-local, unique-local and metadata addresses unless ROTATOR_ALLOW lists them, with a typed error, changing nothing', async () => {
    const p = redisPort();
    const forms = [
      `redis://localhost:${p}`,
      `redis://127.0.0.1:${p}`,
      `redis://[::1]:${p}`,
      `redis://0.0.0.0:${p}`,
      `redis://[::ffff:127.0.0.1]:${p}`,
      'redis://10.1.2.3:6379',
      'redis://172.16.0.1:6379',
      'redis://192.168.1.1:6379',
      'redis://100.64.0.1:6379',
      'redis://169.254.169.254:6379',
      'redis://[fd00:ec2::254]:6379',
      'redis://[fe80::1]:6379',
      'redis://[fc00::1]:6379',
    ];
    const strictR = rotationsOf(strict, t.adminToken, t.adminId);
    const rotated = await strictR.credential(`redis://dashboard:first@127.0.0.1:${p}`);
    const names = [rotated];
    for (const form of forms) {
      const connection = await strictR.credential(form);
      names.push(connection);
      await expectRefused(rotated, { kind: 'REDIS', connection, gracePeriod: 'PT1M' }, 'connection', strict);
    }
    // Metadata endpoints are refused even where ROTATOR_ALLOW lists them.
    for (const form of [
      'redis://169.254.169.254:6379',
      'redis://[fd00:ec2::254]:6379',
      'postgres://u:p@169.254.169.254/db',
    ]) {
      const connection = await r.credential(form);
      names.push(connection);
      await expectRefused(
        rotated,
        {
          kind: form.startsWith('redis') ? 'REDIS' : 'POSTGRES',
          connection,
          roles: ['app_a', 'app_b'],
          gracePeriod: 'PT1M',
        },
        'connection',
      );
    }
    await expectUnchanged(names);
  });

  it('refuse Unix sockets and parameters that name another host or read a file, although the host is allowed', async () => {
    const pp = pg.port;
    const base = `postgres://${PG_ADMIN}@127.0.0.1:${pp}/postgres`;
    const postgres = [
      `${base}?host=/var/run/postgresql`,
      `${base}?hostaddr=127.0.0.1`,
      `${base}?sslrootcert=/etc/passwd&sslmode=verify-full`,
      `${base}?sslcert=/etc/passwd&sslkey=/etc/shadow`,
      `${base}?passfile=/root/.pgpass`,
      `${base}?service=prod`,
      `${base}?options=-c%20log_statement%3Dall`,
      `postgres://lk_admin@%2Fvar%2Frun%2Fpostgresql/postgres`,
      `postgres:///postgres?host=/var/run/postgresql`,
      'socket:/var/run/postgresql?db=postgres',
    ];
    const redis = [
      'redis:///tmp/redis.sock',
      'unix:///tmp/redis.sock',
      `redis://${PG_ADMIN}@127.0.0.1:${redisPort()}/0?path=/tmp/redis.sock`,
      `rediss://${PG_ADMIN}@127.0.0.1:${redisPort()}?tls=true&ca=/etc/ssl/private/key.pem`,
      `redis://${PG_ADMIN}@127.0.0.1:${redisPort()}?family=6`,
    ];
    const goodPg = await r.credential(base);
    const goodRedis = await r.credential(`redis://${PG_ADMIN}@127.0.0.1:${redisPort()}`);
    const names = [goodPg, goodRedis];
    for (const [kind, forms, good] of [
      ['POSTGRES', postgres, goodPg],
      ['REDIS', redis, goodRedis],
    ] as const) {
      for (const form of forms) {
        const other = await r.credential(form);
        names.push(other);
        const input = { kind, roles: kind === 'POSTGRES' ? ['app_a', 'app_b'] : undefined, gracePeriod: 'PT1M' };
        await expectRefused(good, { ...input, connection: other }, 'connection');
        await expectRefused(other, { ...input, connection: good }, 'name');
      }
    }
    await expectUnchanged(names);
  });

  it('refuse at connect time, before any connection, an address a changed value points at', async () => {
    // 127.0.0.2 is loopback, but ROTATOR_ALLOW lists 127.0.0.1 only: a listener there counts connections.
    const cases = [
      {
        kind: 'REDIS',
        rotated: `redis://dashboard:first@127.0.0.1:${redisPort()}`,
        good: `redis://${PG_ADMIN}@127.0.0.1:${redisPort()}`,
        bad: `redis://${PG_ADMIN}@127.0.0.2:${probe.port}`,
        badRotated: `redis://dashboard:first@127.0.0.2:${probe.port}`,
      },
      {
        kind: 'POSTGRES',
        rotated: `postgres://app_a:first@127.0.0.1:${pg.port}/postgres`,
        good: `postgres://${PG_ADMIN}@127.0.0.1:${pg.port}/postgres`,
        bad: `postgres://${PG_ADMIN}@127.0.0.2:${probe.port}/postgres`,
        badRotated: `postgres://app_a:first@127.0.0.2:${probe.port}/postgres`,
      },
    ];
    for (const c of cases) {
      const connection = await r.credential(c.good);
      const name = await r.credential(c.rotated);
      expect(
        (
          await r.setRotator(name, {
            kind: c.kind,
            connection,
            roles: c.kind === 'POSTGRES' ? ['app_a', 'app_b'] : undefined,
            gracePeriod: 'PT1M',
          })
        ).errors,
      ).toBeUndefined();
      await r.addVersion(connection, c.bad);
      await r.addVersion(name, c.badRotated);
      await api.ok(t.adminToken, RotateCredentialDocument, { name });
      expect((await r.until(name, 'FAILED')).rotations[0]).toMatchObject({
        step: 'set',
        failure: 'set: refused by address rules',
      });
    }
    expect(probe.accepted).toBe(0);
  });
});

describe('a built-in rotator’s failure', () => {
  /** Rotates a fresh credential with `connection` as its privileged connection; the failure as the API and the audit log say it. */
  async function failureWith(
    kind: 'POSTGRES' | 'REDIS',
    connectionValue: string,
    roles = ['app_a', 'app_b'],
  ): Promise<{ failure: string; reason: string }> {
    const connection = await r.credential(connectionValue);
    // On the connection's server: a rotator sets passwords only there.
    const server = new URL(connectionValue).host;
    const name = await r.credential(
      kind === 'POSTGRES' ? `postgres://app_a:first@${server}/postgres` : `redis://dashboard:first@${server}`,
    );
    expect(
      (
        await r.setRotator(name, {
          kind,
          connection,
          roles: kind === 'POSTGRES' ? roles : undefined,
          gracePeriod: 'PT1M',
        })
      ).errors,
    ).toBeUndefined();
    const { rotateCredential } = await api.ok(t.adminToken, RotateCredentialDocument, { name });
    const failed = await r.until(name, 'FAILED');
    const [event] = await api.sql(
      `SELECT data FROM audit_events WHERE action = 'CREDENTIAL_ROTATION_FAILED' AND data->>'rotationId' = $1`,
      [rotateCredential.id],
    );
    return { failure: failed.rotations[0].failure, reason: event.data.reason };
  }

  it('says the step and a category: a wrong password and an unknown role read alike, and a closed port and a silent listener read alike (Postgres)', async () => {
    const [wrong, unknownRole, closedPortFailure, silentFailure, noSuchRoleToSet] = await Promise.all([
      failureWith('POSTGRES', `postgres://lk_admin:wrong-password@127.0.0.1:${pg.port}/postgres`),
      failureWith('POSTGRES', `postgres://nobody_here:wrong-password@127.0.0.1:${pg.port}/postgres`),
      failureWith('POSTGRES', `postgres://${PG_ADMIN}@127.0.0.1:${closed}/postgres`),
      failureWith('POSTGRES', `postgres://${PG_ADMIN}@127.0.0.1:${silent.port}/postgres`),
      failureWith('POSTGRES', `postgres://${PG_ADMIN}@127.0.0.1:${pg.port}/postgres`, ['ghost_a', 'ghost_b']),
    ]);
    expect(wrong).toEqual({ failure: 'set: authentication failed', reason: 'set: authentication failed' });
    expect(unknownRole).toEqual(wrong);
    expect(closedPortFailure).toEqual({ failure: 'set: unreachable', reason: 'set: unreachable' });
    expect(silentFailure).toEqual(closedPortFailure);
    expect(noSuchRoleToSet).toEqual({ failure: 'set: failed', reason: 'set: failed' });
  });

  it('says the step and a category: a wrong password and an unknown user read alike, and a closed port and a silent listener read alike (Redis)', async () => {
    const [wrong, unknownUser, closedPortFailure, silentFailure] = await Promise.all([
      failureWith('REDIS', `redis://lk_admin:wrong-password@127.0.0.1:${redisPort()}`),
      failureWith('REDIS', `redis://nobody_here:wrong-password@127.0.0.1:${redisPort()}`),
      failureWith('REDIS', `redis://${PG_ADMIN}@127.0.0.1:${closed}`),
      failureWith('REDIS', `redis://${PG_ADMIN}@127.0.0.1:${silent.port}`),
    ]);
    expect(wrong).toEqual({ failure: 'set: authentication failed', reason: 'set: authentication failed' });
    expect(unknownUser).toEqual(wrong);
    expect(closedPortFailure).toEqual({ failure: 'set: unreachable', reason: 'set: unreachable' });
    expect(silentFailure).toEqual(closedPortFailure);
  });
});
