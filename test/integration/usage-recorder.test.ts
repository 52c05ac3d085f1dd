// The usage recorder on its own, against real Postgres: what one flush writes (totals, last use,
// the newest distinct addresses, per-day counts), what a totals-only flush leaves for later, uses
// that arrive during a flush, a failed write, tokens deleted meanwhile, and idle counters dropped.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_SCHEMA } from '../../src/app/entities';
import { createDataSource } from '../../src/platform/db';
import { IPS_KEPT, UsageRecorder } from '../../src/verify/usage';
import { startTestApi, type TestApi, testEnv } from '../helpers/api';
import { issue, newTenant } from '../helpers/fixtures';

let api: TestApi;
let admin: string;
let adminId: string;
let tenantId: string;

const silent = pino({ level: 'silent' });
/** A recorder whose timer never fires: each test flushes by hand. */
const recorder = (ds: DataSource = api.container.ds) =>
  new UsageRecorder(ds, api.container.metrics, silent, 3_600_000, 3_600_000);
const newToken = async () => (await issue(api, admin, adminId, [])).id;
const totals = async (id: string) =>
  (
    await api.sql(
      `SELECT usage_count::int AS n, last_used_at, last_client_ips AS ips FROM token_usage WHERE token_id = $1`,
      [id],
    )
  )[0];
const days = async (id: string) =>
  Object.fromEntries(
    (
      await api.sql(
        `SELECT to_char(day, 'YYYY-MM-DD') AS day, count::int AS n FROM token_usage_daily WHERE token_id = $1`,
        [id],
      )
    ).map((r) => [r.day, r.n]),
  );

beforeAll(async () => {
  api = await startTestApi();
  ({ adminToken: admin, adminId, tenantId } = await newTenant(api));
});

afterAll(async () => {
  await api?.close();
});

describe('the usage recorder', () => {
  it('writes counts, the last use, the newest distinct addresses and per-day counts in one flush', async () => {
    const [a, b] = [await newToken(), await newToken()];
    const r = recorder();
    const day1 = Date.parse('2026-12-01T23:59:58Z');
    const day2 = Date.parse('2026-12-02T00:00:01Z');
    r.record(a, tenantId, '10.0.0.1', day1);
    for (const ip of ['10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.4', '10.0.0.5', '10.0.0.6'])
      r.record(a, tenantId, ip, day2);
    r.record(b, tenantId, null, day2);
    await r.flush();

    const ta = await totals(a);
    expect(ta.n).toBe(7);
    expect(ta.ips).toEqual(['10.0.0.6', '10.0.0.5', '10.0.0.4', '10.0.0.1', '10.0.0.3']);
    expect(ta.ips).toHaveLength(IPS_KEPT);
    expect(await days(a)).toEqual({ '2026-12-01': 1, '2026-12-02': 6 });
    expect((await totals(b)).n).toBe(1);
    expect((await totals(b)).ips).toEqual([]);
    expect(await days(b)).toEqual({ '2026-12-02': 1 });

    // The next flush adds to what is stored, merging addresses newest first.
    r.record(a, tenantId, '10.0.0.9', day2 + 1_000);
    await r.flush();
    const again = await totals(a);
    expect(again.n).toBe(8);
    expect(again.ips[0]).toBe('10.0.0.9');
    expect(await days(a)).toEqual({ '2026-12-01': 1, '2026-12-02': 7 });
  });

  it('a totals-only flush leaves the per-day counts for the next daily one', async () => {
    const id = await newToken();
    const r = recorder();
    r.record(id, tenantId, null);
    r.record(id, tenantId, null);
    await r.flush({ daily: false });
    expect((await totals(id)).n).toBe(2);
    expect(await days(id)).toEqual({});
    await r.flush({ daily: true });
    expect(Object.values(await days(id))).toEqual([2]);
    expect((await totals(id)).n).toBe(2);
  });

  it('counts uses that arrive during a flush in the next one, none twice and none lost', async () => {
    const id = await newToken();
    const r = recorder();
    r.record(id, tenantId, null);
    const first = r.flush();
    r.record(id, tenantId, null);
    r.record(id, tenantId, null);
    await first;
    await r.flush();
    expect((await totals(id)).n).toBe(3);
    expect(Object.values(await days(id))).toEqual([3]);
  });

  it('keeps the counts of a failed write and writes them with the next flush', async () => {
    const id = await newToken();
    const ds = createDataSource(testEnv().DATABASE_URL!, DATABASE_SCHEMA, 1);
    await ds.initialize();
    const r = recorder(ds);
    r.record(id, tenantId, '10.1.0.1');
    await ds.destroy(); // the write fails: the pool is gone
    await r.flush();
    expect(await totals(id)).toBeUndefined();
    r.record(id, tenantId, '10.1.0.2');
    await ds.initialize();
    try {
      await r.flush();
    } finally {
      await ds.destroy();
    }
    const t = await totals(id);
    expect(t.n).toBe(2);
    expect(t.ips).toEqual(['10.1.0.2', '10.1.0.1']);
    expect(Object.values(await days(id))).toEqual([2]);
  });

  it('skips tokens deleted since their use, writing the others', async () => {
    const id = await newToken();
    const r = recorder();
    r.record(randomUUID(), tenantId, null);
    r.record(id, tenantId, null);
    await r.flush();
    expect((await totals(id)).n).toBe(1);
  });

  it('drops the counter of a token unused for a few flushes, and starts again on its next use', async () => {
    const id = await newToken();
    const r = recorder();
    const held = () => (r as unknown as { counters: Map<string, unknown> }).counters.has(id);
    r.record(id, tenantId, null);
    await r.flush();
    expect(held()).toBe(true);
    for (let i = 0; i < 4; i++) {
      r.record(randomUUID(), tenantId, null); // something to flush, so the walk runs
      await r.flush();
    }
    expect(held()).toBe(false);
    r.record(id, tenantId, null);
    await r.flush();
    expect((await totals(id)).n).toBe(2);
  });
});
