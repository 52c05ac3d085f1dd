// npm run bench:lifecycle — the scheduled lifecycle under a burst. Run 1 seeds 100,000 tokens whose
// rotations, expiries and warnings (a third each) all fall due inside the same 60 s, runs one
// worker process and prints actions/s, lateness (done minus due) p50/p99/max and Redis memory at
// peak. Run 2 seeds 1,000,000 tokens of which 10,000 fall due, to show that the planner's cost
// follows what is due, not the size of the table. The bare baseline, in the same run: BullMQ
// alone moving the same number of delayed no-op jobs through one worker.
import 'reflect-metadata';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Client } from 'pg';
import { DUE_SQL } from '../src/lifecycle/planner';
import { LIFECYCLE_QUEUES } from '../src/platform/queues';
import { benchEnv, cleanUp, fmt, machine, pg, sampleRss, startLatchkey, writeResult } from './bench/harness';
import { seedTokens } from './bench/seed';
import { percentile } from './bench/stats';
import { servers } from './shared/infra';

const WINDOW_MS = 60_000;
const LEAD_MS = 15_000; // between the end of seeding and the first due action
const MAX_PER_TICK = 5_000;

interface Result {
  tokens: number;
  due: number;
  actionsPerS: number;
  p50: number;
  p99: number;
  max: number;
  redisPeakMb: number;
  redisBaseMb: number;
  plannerQueryMs: number;
  plannerRows: number;
  workerRssMb: number;
  done: number;
}

async function redisUsedMb(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 2 ** 20;
}

/** The planner's due queries over the whole table, as a tick runs them (median of 5), and the rows they return. */
async function plannerQuery(db: Client, end: Date): Promise<{ ms: number; rows: number }> {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    rows = 0;
    for (const kind of LIFECYCLE_QUEUES) rows += (await db.query(DUE_SQL[kind], [end, MAX_PER_TICK])).rowCount ?? 0;
    times.push(performance.now() - t0);
  }
  return { ms: times.sort((a, b) => a - b)[2]!, rows };
}

async function lifecycleRun(tokens: number, due: number): Promise<Result> {
  const bench = benchEnv('lifecycle', { PLANNER_MAX_PER_TICK: String(MAX_PER_TICK) });
  // The API role creates the database, migrates and bootstraps, then stops: the worker runs alone.
  const setup = await startLatchkey({ ...bench.env, LATCHKEY_ROLE: 'api' });
  await setup.stop();
  const db = await pg(bench.databaseUrl);
  const redis = new Redis(bench.redisUrl);
  try {
    const [{ tenant_id: tenantId, id: ownerId }] = (
      await db.query(`SELECT tenant_id, id FROM owners ORDER BY created_at LIMIT 1`)
    ).rows;
    const policyId = (
      await db.query(
        `INSERT INTO rotation_policies (id, tenant_id, name, rotate_every_s, grace_period_s, expire_after_s, notify_before_s)
         VALUES (gen_random_uuid(), $1, 'bench', 86400, 3600, NULL, '{3600}') RETURNING id`,
        [tenantId],
      )
    ).rows[0].id;
    const far = new Date(Date.now() + 30 * 86_400_000);
    process.stdout.write(`seeding ${tokens.toLocaleString('en-US')} tokens… `);
    const t0 = Date.now();
    await seedTokens(db, {
      tenantId,
      ownerId,
      scopeIds: [],
      count: tokens,
      pepper: Buffer.from(bench.env.TOKEN_PEPPER!, 'utf8'),
      columns: () => ({ rotation_policy_id: policyId }),
    });
    console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // Everything not due has a schedule far away (a rotation in 30 days); `due` tokens get a
    // rotation, an expiry or a warning spread evenly over the window, a third each. The window
    // starts LEAD_MS after these updates begin, which leaves time for them and the worker's start.
    await db.query(`UPDATE tokens SET next_rotation_at = $1`, [far]);
    await db.query('VACUUM ANALYZE tokens');
    const start = Date.now() + LEAD_MS;
    await db.query(
      `WITH picked AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM tokens WHERE tenant_id = $1 ORDER BY id LIMIT $2),
            at AS (SELECT id, i % 3 AS kind, $3::timestamptz + make_interval(secs => (i * $4::float8 / $2) / 1000) AS due FROM picked)
       UPDATE tokens t SET
         next_rotation_at = CASE WHEN at.kind = 0 THEN at.due ELSE $5 END,
         expires_at = CASE WHEN at.kind = 1 THEN at.due WHEN at.kind = 2 THEN at.due + interval '1 hour' END,
         requested_expires_at = CASE WHEN at.kind = 1 THEN at.due WHEN at.kind = 2 THEN at.due + interval '1 hour' END,
         next_notify_at = CASE WHEN at.kind = 2 THEN at.due END
         FROM at WHERE t.id = at.id`,
      [tenantId, due, new Date(start), WINDOW_MS, far],
    );
    await db.query('ANALYZE tokens');
    const planner = await plannerQuery(db, new Date(start + WINDOW_MS));
    const redisBase = await redisUsedMb(redis);

    const worker = await startLatchkey({ ...bench.env, LATCHKEY_ROLE: 'worker' }, /"msg":"workers started"/);
    if (Date.now() > start)
      console.log(`  (the worker was ready ${Date.now() - start} ms after the window opened: raise LEAD_MS)`);
    const rss = sampleRss(worker.proc.pid!);
    let redisPeak = redisBase;
    const sampler = setInterval(() => void redisUsedMb(redis).then((mb) => (redisPeak = Math.max(redisPeak, mb))), 250);
    const countDone = async () =>
      Number(
        (
          await db.query(
            `SELECT count(*) AS n FROM audit_events WHERE action IN ('TOKEN_ROTATED', 'TOKEN_EXPIRED', 'TOKEN_EXPIRING')`,
          )
        ).rows[0].n,
      );
    const deadline = start + WINDOW_MS + 120_000;
    let done = 0;
    while (Date.now() < deadline && (done = await countDone()) < due) {
      if (process.stdout.isTTY)
        process.stdout.write(`\r  ${done.toLocaleString('en-US')} / ${due.toLocaleString('en-US')} actions done`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    console.log(
      `${process.stdout.isTTY ? '\r' : ''}  ${done.toLocaleString('en-US')} / ${due.toLocaleString('en-US')} actions done`,
    );
    clearInterval(sampler);
    const workerRss = rss.peak();
    rss.stop();
    await worker.stop();

    // Lateness of each action: its audit time minus the instant it was due.
    const { rows } = await db.query(`
      SELECT extract(epoch FROM at) * 1000 AS at_ms,
             extract(epoch FROM CASE action
               WHEN 'TOKEN_ROTATED' THEN (data->>'dueAt')::timestamptz
               WHEN 'TOKEN_EXPIRED' THEN (data->>'expiresAt')::timestamptz
               ELSE (data->>'expiresAt')::timestamptz - interval '1 hour' END) * 1000 AS due_ms
        FROM audit_events WHERE action IN ('TOKEN_ROTATED', 'TOKEN_EXPIRED', 'TOKEN_EXPIRING')`);
    const lateness = rows.map((r) => Number(r.at_ms) - Number(r.due_ms)).sort((a, b) => a - b);
    const first = Math.min(...rows.map((r) => Number(r.at_ms)));
    const last = Math.max(...rows.map((r) => Number(r.at_ms)));
    return {
      tokens,
      due,
      done,
      actionsPerS: done / Math.max(1, (last - Math.max(first, start)) / 1000),
      p50: percentile(lateness, 50),
      p99: percentile(lateness, 99),
      max: lateness.at(-1) ?? NaN,
      redisPeakMb: redisPeak,
      redisBaseMb: redisBase,
      plannerQueryMs: planner.ms,
      plannerRows: planner.rows,
      workerRssMb: workerRss,
    };
  } finally {
    await redis.quit();
    await db.end();
    await cleanUp(bench);
  }
}

/** BullMQ alone: `n` delayed no-op jobs due evenly over the same window, one worker, same concurrency. */
async function bareRun(n: number): Promise<{ perS: number; p99: number }> {
  const prefix = `lkbench-bare-${Date.now()}`;
  const connection = new Redis(servers.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('bare', { connection, prefix });
  const start = Date.now() + LEAD_MS;
  const dueOf = (i: number) => start + Math.floor((i * WINDOW_MS) / n);
  for (let i = 0; i < n; i += 5_000) {
    await queue.addBulk(
      Array.from({ length: Math.min(5_000, n - i) }, (_, k) => ({
        name: 'bare',
        data: { due: dueOf(i + k) },
        opts: {
          jobId: `bare-${i + k}`,
          delay: Math.max(0, dueOf(i + k) - Date.now()),
          removeOnComplete: { count: 10_000 },
        },
      })),
    );
  }
  const lateness: number[] = [];
  let last = 0;
  const worker = new Worker(
    'bare',
    async (job) => {
      last = Date.now();
      lateness.push(last - (job.data as { due: number }).due);
    },
    { connection, prefix, concurrency: 100 },
  );
  while (lateness.length < n) await new Promise((r) => setTimeout(r, 200));
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  return {
    perS: n / ((last - start) / 1000),
    p99: percentile(
      lateness.sort((a, b) => a - b),
      99,
    ),
  };
}

async function main(): Promise<void> {
  const runs: Array<[number, number]> = process.env.BENCH_RUNS
    ? process.env.BENCH_RUNS.split(',').map((r) => r.split(':').map(Number) as [number, number])
    : [
        [100_000, 100_000],
        [1_000_000, 10_000],
      ];
  console.log(`bench:lifecycle on ${machine()}`);
  const results: Result[] = [];
  for (const [tokens, due] of runs) results.push(await lifecycleRun(tokens, due));
  // BENCH_BARE=0 skips the baseline (for quick experiments; the ratio column then reads NaN).
  const bare = process.env.BENCH_BARE === '0' ? { perS: NaN, p99: NaN } : await bareRun(results[0]!.due);
  console.log(
    '\n| tokens | due in 60 s | done | actions/s | vs bare BullMQ | lateness p50 s | p99 s | max s | planner query: rows, ms | Redis peak MB (base) | worker RSS MB |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.tokens.toLocaleString('en-US')} | ${r.due.toLocaleString('en-US')} | ${r.done.toLocaleString('en-US')} | ${fmt(r.actionsPerS, 0)} | ${fmt(r.actionsPerS / bare.perS, 2)} | ${fmt(r.p50 / 1000, 2)} | ${fmt(r.p99 / 1000, 2)} | ${fmt(r.max / 1000, 2)} | ${r.plannerRows.toLocaleString('en-US')}, ${fmt(r.plannerQueryMs, 1)} | ${fmt(r.redisPeakMb, 0)} (${fmt(r.redisBaseMb, 0)}) | ${fmt(r.workerRssMb, 0)} |`,
    );
  }
  console.log(
    `bare BullMQ, ${results[0]!.due.toLocaleString('en-US')} delayed no-op jobs due over the same 60 s, one worker: ${fmt(bare.perS, 0)} jobs/s, lateness p99 ${fmt(bare.p99 / 1000, 2)} s`,
  );
  const first = results[0]!;
  writeResult('lifecycle', { runs: results.map((r) => ({ ...r, vsBare: r.actionsPerS / bare.perS })), bare });
  console.log(
    `targets (run 1): every action done (${first.done === first.due ? 'yes' : 'NO'}), p99 lateness <= 5 s (${fmt(first.p99 / 1000, 2)}), >= 1,000 actions/s (${fmt(first.actionsPerS, 0)})`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
