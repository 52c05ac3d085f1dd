// The scheduled lifecycle with real worker processes: exactly once through kill -9, two workers
// at once and a Redis wipe; clock-based refusal with no worker running; stale jobs; pickup and
// reuse detection. This file has a database and a Redis prefix of its own, because it wipes what
// its Latchkey keeps in Redis and because it must know that no other process plans or acts on its rows.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Client } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seedTokens } from '../../scripts/bench/seed';
import { jobIdOf } from '../../src/lifecycle/planner';
import { startTestApi, type TestApi, testEnv, waitFor } from '../helpers/api';
import { issue, unique } from '../helpers/fixtures';
import { connectPg, deleteRedisKeys } from '../../scripts/shared/infra';
import { ownDatabase } from '../helpers/own-database';
import { type LatchkeyProcess, spawnLatchkey } from '../helpers/process';
import {
  CreateRotationPolicyDocument,
  RevokeTokenDocument,
  RotateTokenDocument,
  SetTokenPolicyDocument,
} from '../generated/graphql';

let api: TestApi;
let env: Record<string, string>;
let admin: string;
let tenantId: string;
let ownerId: string;
let db: Client;
let redis: Redis;
const own = ownDatabase('lifecycle');
const workers: LatchkeyProcess[] = [];

const HORIZON_MS = 8_000;
const TICK_MS = 250;

async function startWorker(): Promise<LatchkeyProcess> {
  const w = await spawnLatchkey({ ...env, LATCHKEY_ROLE: 'worker' }, { waitFor: /"msg":"workers started"/ });
  workers.push(w);
  return w;
}

async function stopWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.stop('SIGKILL')));
}

async function policy(fields: Record<string, unknown>): Promise<string> {
  const { createRotationPolicy } = await api.ok(admin, CreateRotationPolicyDocument, {
    input: { name: unique('policy'), gracePeriod: 'PT1H', ...fields },
  });
  return createRotationPolicy.id;
}

const pepper = () => Buffer.from(env.TOKEN_PEPPER!, 'utf8');
const count = async (sql: string, params: unknown[]) => Number((await db.query(sql, params)).rows[0].n);
const auditCounts = async (action: string, ids: string[]) => {
  const { rows } = await db.query(
    `SELECT target_id, count(*)::int AS n FROM audit_events WHERE action = $1 AND target_id = ANY($2) GROUP BY target_id`,
    [action, ids],
  );
  return new Map<string, number>(rows.map((r) => [r.target_id, r.n]));
};
const verify = async (secret: string) =>
  (
    await api.ok(admin, `query($t: String!) { verifyToken(secret: $t) { valid failure rotationPending } }`, {
      t: secret,
    })
  ).verifyToken;

beforeAll(async () => {
  env = {
    ...testEnv(),
    ...own.env,
    PLANNER_TICK_MS: String(TICK_MS),
    PLANNER_HORIZON_MS: String(HORIZON_MS),
    LOG_LEVEL: 'info',
  };
  api = await startTestApi(env);
  admin = own.bootstrapToken();
  const { viewer } = await api.ok(admin, `{ viewer { id } }`);
  ownerId = viewer.id;
  tenantId = (await api.sql(`SELECT tenant_id FROM owners WHERE id = $1`, [viewer.id]))[0].tenant_id;
  db = await connectPg(env.DATABASE_URL!);
  redis = new Redis(env.REDIS_URL!);
});

afterEach(stopWorkers);

afterAll(async () => {
  await stopWorkers();
  await redis?.quit();
  await db?.end();
  await api?.close();
  await own.drop();
});

describe('policies drive schedules', () => {
  it('sets expiry, rotation and warnings at issue; re-plans on update and on setTokenPolicy; previews and dry-runs', async () => {
    const policyId = await policy({ rotateEvery: 'P7D', expireAfter: 'P30D', notifyBefore: ['P2D', 'P7D'] });
    const before = Date.now();
    const t = await issue(api, admin, ownerId, [], {
      rotationPolicyId: policyId,
      expiresAt: new Date(before + 60 * 86_400_000).toISOString(),
    });
    const [row] = (
      await db.query(`SELECT expires_at, next_rotation_at, next_notify_at FROM tokens WHERE id = $1`, [t.id])
    ).rows;
    const days = (d: Date) => (d.getTime() - before) / 86_400_000;
    // The explicit 60 days are capped by the policy's 30; first warning 7 days before.
    expect(days(row.expires_at)).toBeCloseTo(30, 2);
    expect(days(row.next_rotation_at)).toBeCloseTo(7, 2);
    expect(days(row.next_notify_at)).toBeCloseTo(23, 2);

    const { rotationPlan } = await api.ok(
      admin,
      `query($f: TokenFilter) { rotationPlan(within: "P40D", filter: $f) { actions { at kind generation notifyBefore tokenId } truncated } }`,
      {
        f: { ownerId, search: null },
      },
    );
    const mine = rotationPlan.actions.filter((a: { tokenId: string }) => a.tokenId === t.id);
    expect(mine.map((a: { kind: string; generation: number | null }) => [a.kind, a.generation])).toEqual([
      ['ROTATE', 2],
      ['RETIRE', 1],
      ['ROTATE', 3],
      ['RETIRE', 2],
      ['ROTATE', 4],
      ['RETIRE', 3],
      ['NOTIFY', null],
      ['ROTATE', 5],
      ['NOTIFY', null],
      ['RETIRE', 4],
      ['EXPIRE', null],
    ]);
    expect(
      mine.filter((a: { kind: string }) => a.kind === 'NOTIFY').map((a: { notifyBefore: string }) => a.notifyBefore),
    ).toEqual(['P7D', 'P2D']);

    // A dry run returns the plan difference and changes nothing.
    const audit = await count(`SELECT count(*) AS n FROM audit_events`, []);
    const update = `mutation($id: ID!, $i: RotationPolicyInput!, $dry: Boolean) {
      updateRotationPolicy(id: $id, input: $i, dryRun: $dry, within: "P40D") {
        rotateEvery planImpact { tokens affectedTokens addedCount removedCount added { kind generation tokenId } removed { kind tokenId } } } }`;
    const input = {
      name: unique('policy'),
      gracePeriod: 'PT1H',
      rotateEvery: 'P14D',
      expireAfter: 'P30D',
      notifyBefore: ['P2D', 'P7D'],
    };
    const dry = (await api.ok(admin, update, { id: policyId, i: input, dry: true })).updateRotationPolicy;
    expect(dry.rotateEvery).toBe('P14D');
    expect(dry.planImpact).toMatchObject({ tokens: 1, affectedTokens: 1, addedCount: 4, removedCount: 8 });
    expect(dry.planImpact.added.map((a: { kind: string; generation: number }) => [a.kind, a.generation])).toEqual([
      ['ROTATE', 2],
      ['RETIRE', 1],
      ['ROTATE', 3],
      ['RETIRE', 2],
    ]);
    expect(
      (await db.query(`SELECT rotate_every_s FROM rotation_policies WHERE id = $1`, [policyId])).rows[0].rotate_every_s,
    ).toBe(7 * 86_400);
    expect(
      (await db.query(`SELECT next_rotation_at FROM tokens WHERE id = $1`, [t.id])).rows[0].next_rotation_at,
    ).toEqual(row.next_rotation_at);
    expect(await count(`SELECT count(*) AS n FROM audit_events`, [])).toBe(audit);

    // The real update re-plans its tokens in the same transaction.
    const real = (await api.ok(admin, update, { id: policyId, i: input, dry: false })).updateRotationPolicy;
    expect(real.planImpact.addedCount).toBe(4);
    const replanned = (await db.query(`SELECT next_rotation_at FROM tokens WHERE id = $1`, [t.id])).rows[0];
    expect(days(replanned.next_rotation_at)).toBeCloseTo(14, 2);

    // Detaching the policy drops the rotation and the warnings; the explicit expiry comes back.
    await api.ok(admin, SetTokenPolicyDocument, { id: t.id, rotationPolicyId: null });
    const detached = (
      await db.query(`SELECT expires_at, next_rotation_at, next_notify_at FROM tokens WHERE id = $1`, [t.id])
    ).rows[0];
    expect(days(detached.expires_at)).toBeCloseTo(60, 2);
    expect(detached.next_rotation_at).toBeNull();
    expect(detached.next_notify_at).toBeNull();
  });

  it('refuses a scheduled rotation without a grace period to pick the successor up in, and a bad window', async () => {
    const r = await api.gql(
      admin,
      `mutation { createRotationPolicy(input: { name: "x", rotateEvery: "P1D", gracePeriod: "PT0S" }) { id } }`,
    );
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const w = await api.gql(admin, `{ rotationPlan(within: "PT0S") { truncated } }`);
    expect(w.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('workers stopped entirely', () => {
  it('verification still refuses a token past expiresAt and a PREVIOUS secret past graceEndsAt, to the second', async () => {
    const expiring = await issue(api, admin, ownerId, [], { expiresAt: new Date(Date.now() + 1_500).toISOString() });
    const rotated = await issue(api, admin, ownerId, []);
    const { rotateToken } = await api.ok(admin, RotateTokenDocument, { id: rotated.id, gracePeriod: 'PT2S' });
    expect(await verify(expiring.secret)).toMatchObject({ valid: true });
    expect(await verify(rotated.secret)).toMatchObject({ valid: true, rotationPending: true });
    const [expiry, grace] = [
      (await db.query(`SELECT expires_at FROM tokens WHERE id = $1`, [expiring.id])).rows[0].expires_at as Date,
      (
        await db.query(`SELECT grace_ends_at FROM token_secrets WHERE token_id = $1 AND state = 'PREVIOUS'`, [
          rotated.id,
        ])
      ).rows[0].grace_ends_at as Date,
    ];
    await sleep(Math.max(expiry.getTime(), grace.getTime()) - Date.now() + 50);
    expect(await verify(expiring.secret)).toMatchObject({ valid: false, failure: 'EXPIRED' });
    expect(await verify(rotated.secret)).toMatchObject({ valid: false, failure: 'EXPIRED' });
    expect(await verify(rotateToken.secret)).toMatchObject({ valid: true });
    // Nothing acted: the rows still say ACTIVE and PREVIOUS.
    expect((await db.query(`SELECT status FROM tokens WHERE id = $1`, [expiring.id])).rows[0].status).toBe('ACTIVE');
    expect(
      await count(`SELECT count(*) AS n FROM token_secrets WHERE token_id = $1 AND state = 'PREVIOUS'`, [rotated.id]),
    ).toBe(1);
  });
});

describe('scheduled rotation and pickup', () => {
  it('a holder asking again and again for a successor that a manual rotation handed out is refused each time, audited once a minute', async () => {
    const t = await issue(api, admin, ownerId, []);
    await api.ok(admin, RotateTokenDocument, { id: t.id, gracePeriod: 'PT1H' });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++)
      statuses.push(
        (
          await fetch(`${api.url}/v1/tokens/successor`, {
            method: 'POST',
            headers: { authorization: `Bearer ${t.secret}` },
          })
        ).status,
      );
    expect(new Set(statuses)).toEqual(new Set([409]));
    expect(
      await count(
        `SELECT count(*) AS n FROM audit_events WHERE target_id = $1 AND action = 'TOKEN_SUCCESSOR_REFUSED'`,
        [t.id],
      ),
    ).toBe(1);
  });

  it('rotates on time and seals the successor; every pickup during the grace gets it; after the grace a pickup is reuse', async () => {
    const policyId = await policy({ rotateEvery: 'P1D', onReuse: 'REVOKE' });
    const t = await issue(api, admin, ownerId, [], { rotationPolicyId: policyId });
    const due = new Date(Date.now() + 1_000);
    await db.query(`UPDATE tokens SET next_rotation_at = $2 WHERE id = $1`, [t.id, due]);
    await startWorker();
    const rotated = await waitFor(
      async () => (await db.query(`SELECT generation, next_rotation_at FROM tokens WHERE id = $1`, [t.id])).rows[0],
      (r) => r.generation === 2,
      15_000,
    );
    // Next rotation a day after this one; the audit says it was scheduled, and holds no secret.
    expect(rotated.next_rotation_at.getTime() - due.getTime()).toBeGreaterThan(86_000_000);
    const [event] = (
      await db.query(`SELECT actor_id, data FROM audit_events WHERE action = 'TOKEN_ROTATED' AND target_id = $1`, [
        t.id,
      ])
    ).rows;
    expect(event.actor_id).toBeNull();
    expect(event.data).toMatchObject({ generation: 2, scheduled: true, gracePeriod: 'PT1H' });
    const sealed = (
      await db.query(`SELECT sealed, sealed_key_id FROM token_secrets WHERE token_id = $1 AND state = 'CURRENT'`, [
        t.id,
      ])
    ).rows[0];
    expect(sealed.sealed).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(sealed.sealed).not.toContain('lk_');
    expect(sealed.sealed_key_id).toMatch(/^[0-9a-f]{8}$/);
    // The job carried ids and the due instant only.
    const jobs = await redis.keys(`${env.REDIS_PREFIX}:rotate:rotate-${t.id}-*`);
    const data = JSON.parse(
      (await redis.hget(
        jobs.find((k) => !k.endsWith(':lock'))!,
        'data',
      ))!,
    );
    expect(Object.keys(data).sort()).toEqual(['due', 'generation', 'tenantId', 'tokenId']);

    expect(await verify(t.secret)).toMatchObject({ valid: true, rotationPending: true });
    const pickup = () =>
      fetch(`${api.url}/v1/tokens/successor`, { method: 'POST', headers: { authorization: `Bearer ${t.secret}` } });
    const first = await pickup();
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const body: any = await first.json();
    expect(body).toMatchObject({ tokenId: t.id, generation: 2 });
    expect(await verify(body.token)).toMatchObject({ valid: true, rotationPending: false });
    // The successor in use does not stop another holder, or a retry, from getting the same one.
    for (let i = 0; i < 2; i++) {
      const again = await pickup();
      expect(again.status).toBe(200);
      expect(((await again.json()) as any).token).toBe(body.token);
    }
    expect(await verify(t.secret)).toMatchObject({ valid: true, rotationPending: true });
    // The grace ends: the old secret presented again is reuse, and this policy revokes.
    await db.query(`UPDATE token_secrets SET grace_ends_at = $2 WHERE token_id = $1 AND state = 'PREVIOUS'`, [
      t.id,
      new Date(Date.now() + 300),
    ]);
    await sleep(400);
    const reuse = await pickup();
    expect(reuse.status).toBe(401);
    expect(((await reuse.json()) as any).error).toMatchObject({ code: 'UNAUTHENTICATED', revoked: true });
    expect((await db.query(`SELECT status FROM tokens WHERE id = $1`, [t.id])).rows[0].status).toBe('REVOKED');
    expect(await verify(body.token)).toMatchObject({ valid: false, failure: 'REVOKED' });
    // The worker may retire the old secret before or after the late pickup: it is not part of the story.
    const actions = (
      await db.query(
        `SELECT action FROM audit_events WHERE target_id = $1 AND action <> 'TOKEN_SECRET_RETIRED' ORDER BY seq`,
        [t.id],
      )
    ).rows.map((r) => r.action);
    expect(actions).toEqual([
      'TOKEN_ISSUED',
      'TOKEN_ROTATED',
      'TOKEN_SUCCESSOR_PICKED_UP',
      'TOKEN_SUCCESSOR_PICKED_UP',
      'TOKEN_SUCCESSOR_PICKED_UP',
      'TOKEN_REUSE_DETECTED',
      'TOKEN_REVOKED',
    ]);
  });

  it('after the grace the old secret gets 401 and the unclaimed successor is deleted; reuse only notifies by default', async () => {
    const policyId = await policy({ rotateEvery: 'P1D' });
    const t = await issue(api, admin, ownerId, [], { rotationPolicyId: policyId });
    await db.query(`UPDATE tokens SET next_rotation_at = $2 WHERE id = $1`, [t.id, new Date(Date.now() + 500)]);
    await startWorker();
    await waitFor(
      async () => (await db.query(`SELECT generation FROM tokens WHERE id = $1`, [t.id])).rows[0].generation,
      (g) => g === 2,
      15_000,
    );
    const pickup = () =>
      fetch(`${api.url}/v1/tokens/successor`, { method: 'POST', headers: { authorization: `Bearer ${t.secret}` } });
    // Grace ends (moved to the near past): the worker retires the old secret; it gets 401.
    await db.query(`UPDATE token_secrets SET grace_ends_at = $2 WHERE token_id = $1 AND state = 'PREVIOUS'`, [
      t.id,
      new Date(Date.now() + 300),
    ]);
    await sleep(400);
    const late = await pickup();
    expect(late.status).toBe(401);
    expect(late.headers.get('www-authenticate')).toContain('invalid_token');
    await waitFor(
      async () =>
        count(`SELECT count(*) AS n FROM audit_events WHERE action = 'TOKEN_SECRET_RETIRED' AND target_id = $1`, [
          t.id,
        ]),
      (n) => n === 1,
      15_000,
    );
    expect(
      (await db.query(`SELECT state FROM token_secrets WHERE token_id = $1 AND generation = 1`, [t.id])).rows[0].state,
    ).toBe('RETIRED');
    expect(
      await count(`SELECT count(*) AS n FROM token_secrets WHERE token_id = $1 AND sealed IS NOT NULL`, [t.id]),
    ).toBe(0);
    expect(
      await count(`SELECT count(*) AS n FROM audit_events WHERE action = 'TOKEN_REUSE_DETECTED' AND target_id = $1`, [
        t.id,
      ]),
    ).toBe(1);
    expect((await db.query(`SELECT status FROM tokens WHERE id = $1`, [t.id])).rows[0].status).toBe('ACTIVE');
    const garbage = await fetch(`${api.url}/v1/tokens/successor`, {
      method: 'POST',
      headers: { authorization: 'Bearer lk_nothing' },
    });
    expect(garbage.status).toBe(401);
  });

  it('a fleet of three consumers sharing one token passes through a scheduled rotation with no failed request', async () => {
    const policyId = await policy({ rotateEvery: 'P1D', gracePeriod: 'PT1M', onReuse: 'REVOKE' });
    const t = await issue(api, admin, ownerId, [], { rotationPolicyId: policyId });
    let stop = false;
    const failures: string[] = [];
    // Each replica verifies with the secret it holds; on rotationPending it picks up the successor.
    const replica = async (name: string) => {
      let secret = t.secret;
      let requests = 0;
      while (!stop) {
        const v = await verify(secret);
        requests++;
        if (!v.valid) failures.push(`${name}: ${v.failure}`);
        if (v.rotationPending) {
          const r = await fetch(`${api.url}/v1/tokens/successor`, {
            method: 'POST',
            headers: { authorization: `Bearer ${secret}` },
          });
          if (r.status === 200) secret = ((await r.json()) as any).token;
          else failures.push(`${name}: pickup ${r.status}`);
        }
        await sleep(25);
      }
      return { secret, requests };
    };
    const fleet = ['a', 'b', 'c'].map((n) => replica(n));
    await db.query(`UPDATE tokens SET next_rotation_at = $2 WHERE id = $1`, [t.id, new Date(Date.now() + 500)]);
    await startWorker();
    await waitFor(
      async () => (await db.query(`SELECT generation FROM tokens WHERE id = $1`, [t.id])).rows[0].generation,
      (g) => g === 2,
      15_000,
    );
    // Let every replica notice and move over, then end the grace: nobody holds the old secret any more.
    await sleep(1_500);
    await db.query(`UPDATE token_secrets SET grace_ends_at = $2 WHERE token_id = $1 AND state = 'PREVIOUS'`, [
      t.id,
      new Date(Date.now() + 200),
    ]);
    await waitFor(
      async () =>
        count(`SELECT count(*) AS n FROM audit_events WHERE action = 'TOKEN_SECRET_RETIRED' AND target_id = $1`, [
          t.id,
        ]),
      (n) => n === 1,
      15_000,
    );
    await sleep(500);
    stop = true;
    const results = await Promise.all(fleet);
    expect(failures).toEqual([]);
    expect(new Set(results.map((r) => r.secret)).size).toBe(1);
    expect(results[0]!.secret).not.toBe(t.secret);
    expect(results.every((r) => r.requests > 10)).toBe(true);
    expect((await db.query(`SELECT status FROM tokens WHERE id = $1`, [t.id])).rows[0].status).toBe('ACTIVE');
    expect(
      await count(
        `SELECT count(*) AS n FROM audit_events WHERE action = 'TOKEN_SUCCESSOR_PICKED_UP' AND target_id = $1`,
        [t.id],
      ),
    ).toBe(3);
  });

  it('applies the token’s networks to a pickup, believing no forwarding header from an untrusted peer', async () => {
    const policyId = await policy({ rotateEvery: 'P1D' });
    const t = await issue(api, admin, ownerId, [], { rotationPolicyId: policyId, allowedCidrs: ['10.0.0.0/8'] });
    await db.query(`UPDATE tokens SET next_rotation_at = $2 WHERE id = $1`, [t.id, new Date(Date.now() + 500)]);
    await startWorker();
    await waitFor(
      () => count(`SELECT count(*) AS n FROM token_secrets WHERE token_id = $1 AND sealed IS NOT NULL`, [t.id]),
      (n) => n === 1,
      15_000,
    );
    for (const headers of [{}, { 'x-real-ip': '10.1.2.3' }, { 'x-forwarded-for': '10.1.2.3' }] as Array<
      Record<string, string>
    >) {
      const r = await fetch(`${api.url}/v1/tokens/successor`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.secret}`, ...headers },
      });
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(((await r.json()) as any).error.code).toBe('IP_NOT_ALLOWED');
    }
    // Still sealed, still waiting for a holder on an allowed network; nothing recorded that address.
    expect(
      await count(`SELECT count(*) AS n FROM token_secrets WHERE token_id = $1 AND sealed IS NOT NULL`, [t.id]),
    ).toBe(1);
    expect(
      await count(
        `SELECT count(*) AS n FROM audit_events WHERE target_id = $1 AND action = 'TOKEN_SUCCESSOR_PICKED_UP'`,
        [t.id],
      ),
    ).toBe(0);
  });

  it('revoking a token deletes a successor still waiting for pickup', async () => {
    const policyId = await policy({ rotateEvery: 'P1D' });
    const t = await issue(api, admin, ownerId, [], { rotationPolicyId: policyId });
    await db.query(`UPDATE tokens SET next_rotation_at = $2 WHERE id = $1`, [t.id, new Date(Date.now() + 500)]);
    await startWorker();
    await waitFor(
      () => count(`SELECT count(*) AS n FROM token_secrets WHERE token_id = $1 AND sealed IS NOT NULL`, [t.id]),
      (n) => n === 1,
      15_000,
    );
    await api.ok(admin, RevokeTokenDocument, { id: t.id, reason: 'leaked' });
    expect(
      await count(`SELECT count(*) AS n FROM token_secrets WHERE token_id = $1 AND sealed IS NOT NULL`, [t.id]),
    ).toBe(0);
    const pickup = await fetch(`${api.url}/v1/tokens/successor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.secret}` },
    });
    expect(pickup.status).toBe(401);
  });

  it('a token revoked after its rotation job was enqueued: the job does nothing and says so', async () => {
    const policyId = await policy({ rotateEvery: 'P1D' });
    const t = await issue(api, admin, ownerId, [], { rotationPolicyId: policyId });
    const due = new Date(Date.now() + 2_500);
    await db.query(`UPDATE tokens SET next_rotation_at = $2 WHERE id = $1`, [t.id, due]);
    await startWorker();
    const jobId = jobIdOf('rotate', { tokenId: t.id, tenantId, generation: 1, due: due.getTime() });
    const queue = api.container.services.queues.get('rotate');
    await waitFor(
      () => queue.getJob(jobId),
      (j) => j !== undefined,
      10_000,
    );
    await api.ok(admin, RevokeTokenDocument, { id: t.id, reason: 'leaked' });
    const job = await waitFor(
      () => queue.getJob(jobId),
      (j) => j?.finishedOn !== undefined,
      15_000,
    );
    expect(job!.returnvalue).toEqual({ done: false, detail: 'the token is revoked' });
    expect((await db.query(`SELECT generation FROM tokens WHERE id = $1`, [t.id])).rows[0].generation).toBe(1);
    expect(
      await count(`SELECT count(*) AS n FROM audit_events WHERE action = 'TOKEN_ROTATED' AND target_id = $1`, [t.id]),
    ).toBe(0);
  });
});

describe('exactly once', () => {
  async function seedRotations(n: number, spreadMs: number, policyId: string) {
    const start = Date.now() + 1_000;
    const { ids } = await seedTokens(db, {
      tenantId,
      ownerId,
      scopeIds: [],
      count: n,
      pepper: pepper(),
      columns: (i) => ({
        rotation_policy_id: policyId,
        next_rotation_at: new Date(start + Math.floor((i * spreadMs) / n)),
      }),
    });
    return ids;
  }

  async function expectRotatedOnce(ids: string[]) {
    const { rows } = await db.query(
      `SELECT generation, count(*)::int AS n FROM tokens WHERE id = ANY($1) GROUP BY generation`,
      [ids],
    );
    expect(rows).toEqual([{ generation: 2, n: ids.length }]);
    expect(
      await count(`SELECT count(*) AS n FROM token_secrets WHERE token_id = ANY($1) AND state = 'CURRENT'`, [ids]),
    ).toBe(ids.length);
    expect(await count(`SELECT count(*) AS n FROM token_secrets WHERE token_id = ANY($1)`, [ids])).toBe(2 * ids.length);
    const audits = await auditCounts('TOKEN_ROTATED', ids);
    expect(audits.size).toBe(ids.length);
    expect([...audits.values()].every((n) => n === 1)).toBe(true);
  }

  it('kill -9 of the worker at random moments, 20 times, while 500 rotations fall due', async () => {
    const ids = await seedRotations(500, 12_000, await policy({ rotateEvery: 'P1D' }));
    let worker = await startWorker();
    for (let i = 0; i < 20; i++) {
      await sleep(100 + Math.floor(Math.random() * 600));
      worker.proc.kill('SIGKILL');
      await worker.exited;
      workers.splice(workers.indexOf(worker), 1);
      worker = await startWorker();
    }
    await waitFor(
      () => count(`SELECT count(*) AS n FROM tokens WHERE id = ANY($1) AND generation = 1`, [ids]),
      (n) => n === 0,
      60_000,
    );
    await sleep(1_000);
    await expectRotatedOnce(ids);
  }, 180_000);

  it('two worker processes at once run no action twice', async () => {
    const ids = await seedRotations(300, 3_000, await policy({ rotateEvery: 'P1D' }));
    await Promise.all([startWorker(), startWorker()]);
    await waitFor(
      () => count(`SELECT count(*) AS n FROM tokens WHERE id = ANY($1) AND generation = 1`, [ids]),
      (n) => n === 0,
      30_000,
    );
    await sleep(1_000);
    await expectRotatedOnce(ids);
  }, 60_000);

  it('Redis wiped while 1,000 actions are planned: every one still happens, within the horizon plus a tick', async () => {
    const policyId = await policy({ rotateEvery: 'P1D', notifyBefore: ['PT1H'] });
    const due = Date.now() + 6_000;
    const { ids } = await seedTokens(db, {
      tenantId,
      ownerId,
      scopeIds: [],
      count: 1_000,
      pepper: pepper(),
      columns: (i) =>
        i % 3 === 0
          ? { rotation_policy_id: policyId, next_rotation_at: new Date(due + i) }
          : i % 3 === 1
            ? { rotation_policy_id: policyId, expires_at: new Date(due + i) }
            : {
                rotation_policy_id: policyId,
                expires_at: new Date(due + 3_600_000 + i),
                next_notify_at: new Date(due + i),
              },
    });
    await startWorker();
    const plannedKey = `${env.REDIS_PREFIX}:planner:planned`;
    await waitFor(
      () => redis.zcount(plannedKey, due, due + 999),
      (n) => n === 1_000,
      10_000,
    );
    expect(await count(`SELECT count(*) AS n FROM audit_events WHERE target_id = ANY($1)`, [ids])).toBe(0);
    // Everything this Latchkey keeps in Redis is gone (its keys, not the shared Redis's). The running
    // worker writes again at once (its tick lock and heartbeat), so what is left just after the
    // wipe is not a thing to assert; the plan coming back is.
    await deleteRedisKeys(env.REDIS_URL!, env.REDIS_PREFIX!);
    const wiped = Date.now();
    await waitFor(
      () => redis.zcount(plannedKey, due, due + 999),
      (n) => n === 1_000,
      HORIZON_MS + TICK_MS + 1_000,
    );
    await waitFor(
      () => count(`SELECT count(*) AS n FROM audit_events WHERE target_id = ANY($1)`, [ids]),
      (n) => n === 1_000,
      30_000,
    );
    const allDone = Date.now();
    // Due 6 s after seeding; the horizon plus a tick (and a second of slack) after the wipe at most.
    expect(allDone - Math.max(wiped, due)).toBeLessThan(HORIZON_MS + TICK_MS + 1_000);
    const byAction = (
      await db.query(
        `SELECT action, count(*)::int AS n FROM audit_events WHERE target_id = ANY($1) GROUP BY action ORDER BY action`,
        [ids],
      )
    ).rows;
    expect(byAction).toEqual([
      { action: 'TOKEN_EXPIRED', n: 333 },
      { action: 'TOKEN_EXPIRING', n: 333 },
      { action: 'TOKEN_ROTATED', n: 334 },
    ]);
  }, 60_000);
});

describe('operations view', () => {
  it('shows queue depths, planner lag and failed jobs to operators only', async () => {
    const { lifecycleOperations } = await api.ok(
      admin,
      `{ lifecycleOperations { queues { name waiting delayed active failed } plannerLag overdue lastTickAt failedJobs { jobId } } }`,
    );
    expect(lifecycleOperations.queues.map((q: { name: string }) => q.name)).toEqual([
      'planner',
      'rotate',
      'expire',
      'notify',
      'retire',
    ]);
    expect(lifecycleOperations.plannerLag).toMatch(/^P/);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/latchkey_lifecycle_jobs\{queue="rotate",state="delayed"\} \d+/);
    expect(metrics).toMatch(/latchkey_lifecycle_planner_lag_seconds \d/);
  });
});
