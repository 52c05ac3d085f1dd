// The lifecycle planner on its own, against real Postgres and Redis: which rows it enqueues, under
// which job ids, what a second tick or a second planner does, and what a wiped Redis does. A
// database and Redis prefix of this file's own: no other file's tokens fall due here, and no
// worker takes the jobs, so every job it enqueues stays in view.
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jobIdOf, Planner, type PlannerOptions } from '../../src/lifecycle/planner';
import { QueueName } from '../../src/platform/queues';
import { startTestApi, type TestApi } from '../helpers/api';
import { issue, newTenant } from '../helpers/fixtures';
import { ownDatabase } from '../helpers/own-database';

let api: TestApi;
let admin: string;
let adminId: string;
let tenantId: string;
const db = ownDatabase('planner');

const HORIZON_MS = 60_000;
const planner = (opts: Partial<PlannerOptions> = {}) =>
  new Planner(
    api.container.ds,
    api.container.redis,
    api.container.services.queues,
    { horizonMs: HORIZON_MS, maxPerTick: 1_000, batch: 100, lockTtlMs: 5_000, ...opts },
    pino({ level: 'silent' }),
  );

/** The expiry an UPDATE … RETURNING wrote (TypeORM answers an UPDATE with [rows, count]). */
async function expiryAfter(sql: string, params: unknown[]): Promise<number> {
  const [rows] = await api.sql(sql, params);
  return rows[0].expires_at.getTime();
}

/** A token of this tenant that expires in `ms` (the schedule column written as the API would). */
async function expiringIn(ms: number): Promise<{ id: string; due: number }> {
  const { id } = await issue(api, admin, adminId, []);
  return {
    id,
    due: await expiryAfter(
      `UPDATE tokens SET expires_at = now() + $2 * interval '1 millisecond' WHERE id = $1 RETURNING expires_at`,
      [id, ms],
    ),
  };
}

const expireJob = (id: string, due: number) =>
  api.container.services.queues.get(QueueName.EXPIRE).getJob(jobIdOf('expire', { tokenId: id, tenantId, due }));

beforeAll(async () => {
  api = await startTestApi(db.env);
  ({ adminToken: admin, adminId, tenantId } = await newTenant(api, db.bootstrapToken()));
});

beforeEach(async () => {
  // Each test sees only its own due rows.
  await api.sql(`UPDATE tokens SET expires_at = NULL`);
  await api.container.services.queues.get(QueueName.EXPIRE).obliterate({ force: true });
  await api.container.redis.del(`${api.container.services.queues.prefix}:planner:planned`);
});

afterAll(async () => {
  await api?.close();
  await db.drop();
});

describe('the lifecycle planner', () => {
  it('enqueues a delayed job per due row under a deterministic id, and a second tick adds nothing', async () => {
    const soon = await expiringIn(30_000);
    const later = await expiringIn(HORIZON_MS + 60_000);
    const p = planner();

    const first = await p.tick();
    expect(first.ran).toBe(true);
    expect(first.enqueued.expire).toBe(1);
    const job = await expireJob(soon.id, soon.due);
    expect(job?.data).toEqual({ tenantId, tokenId: soon.id, due: soon.due });
    expect(job!.opts.delay).toBeGreaterThan(20_000);
    expect(job!.opts.delay).toBeLessThanOrEqual(30_000);
    expect(await expireJob(later.id, later.due)).toBeUndefined();

    const second = await p.tick();
    expect(second.due.expire).toBe(1);
    expect(second.enqueued.expire).toBe(0);
    expect(await api.container.services.queues.get(QueueName.EXPIRE).getJobCounts('delayed')).toEqual({ delayed: 1 });
  });

  it('gives a re-planned row a new job id, leaving the stale job to find nothing', async () => {
    const t = await expiringIn(30_000);
    const p = planner();
    await p.tick();
    const moved = await expiryAfter(
      `UPDATE tokens SET expires_at = expires_at + interval '5 seconds' WHERE id = $1 RETURNING expires_at`,
      [t.id],
    );
    expect((await p.tick()).enqueued.expire).toBe(1);
    expect(await expireJob(t.id, t.due)).toBeDefined();
    expect(await expireJob(t.id, moved)).toBeDefined();
  });

  it('takes the earliest rows first when more fall due than one tick enqueues', async () => {
    const rows = [await expiringIn(40_000), await expiringIn(10_000), await expiringIn(20_000)];
    const report = await planner({ maxPerTick: 2 }).tick();
    expect(report.enqueued.expire).toBe(2);
    expect(await expireJob(rows[1]!.id, rows[1]!.due)).toBeDefined();
    expect(await expireJob(rows[2]!.id, rows[2]!.due)).toBeDefined();
    expect(await expireJob(rows[0]!.id, rows[0]!.due)).toBeUndefined();
  });

  it('plans everything again after Redis lost its jobs', async () => {
    const t = await expiringIn(30_000);
    const p = planner();
    await p.tick();
    await api.container.services.queues.get(QueueName.EXPIRE).obliterate({ force: true });
    await api.container.redis.del(`${api.container.services.queues.prefix}:planner:planned`);
    expect(await expireJob(t.id, t.due)).toBeUndefined();
    expect((await p.tick()).enqueued.expire).toBe(1);
    expect(await expireJob(t.id, t.due)).toBeDefined();
  });

  it('runs one tick at a time: a second planner finds the lock held and does nothing', async () => {
    await expiringIn(30_000);
    const lockKey = `${api.container.services.queues.prefix}:planner:lock`;
    await api.container.redis.set(lockKey, 'another planner', 'PX', 5_000);
    try {
      const report = await planner().tick();
      expect(report.ran).toBe(false);
      expect(await api.container.services.queues.get(QueueName.EXPIRE).getJobCounts('delayed')).toEqual({ delayed: 0 });
      expect(await api.container.redis.get(lockKey)).toBe('another planner');
    } finally {
      await api.container.redis.del(lockKey);
    }
    expect((await planner().tick()).enqueued.expire).toBe(1);
  });

  it('skips a row another transaction holds, and enqueues it on a later tick', async () => {
    const t = await expiringIn(30_000);
    const runner = api.container.ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      await runner.query(`SELECT id FROM tokens WHERE id = $1 FOR UPDATE`, [t.id]);
      const report = await planner().tick();
      expect(report.due.expire).toBe(1);
      expect(report.enqueued.expire).toBe(0);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    expect((await planner().tick()).enqueued.expire).toBe(1);
    expect(await expireJob(t.id, t.due)).toBeDefined();
  });
});
