// What a database superuser who switches the guards off can do to the audit log, and how it is
// caught: online by the signed checkpoints, offline by an export checked against an earlier one.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventHash } from '../../src/audit/audit-chain';
import { startTestApi, type TestApi, waitFor } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { asSuperuserWithoutGuards } from '../helpers/tamper';
import { CreateScopeDocument } from '../generated/graphql';

const VERIFY = resolve(__dirname, '..', '..', 'dist', 'scripts', 'audit-verify.js');
const dir = mkdtempSync(join(tmpdir(), 'latchkey-tamper-'));
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi(); // a checkpoint every 10 events (global setup)
});
afterAll(() => api.close());

/** A tenant with 25 events and its checkpoints at 10 and 20 signed. */
async function victim(): Promise<TenantFixture> {
  const t = await newTenant(api);
  for (let i = 0; i < 25; i++) await api.ok(t.adminToken, CreateScopeDocument, { input: { name: `v${i}:x:read` } });
  await waitFor(
    async () =>
      (await api.sql(`SELECT count(*)::int AS n FROM audit_checkpoints WHERE tenant_id = $1`, [t.tenantId]))[0].n,
    (n) => n >= 2,
  );
  await relayCaughtUp(t);
  return t;
}

/** Changes one event's data and recomputes every hash after it, as a careful forger would. */
async function rewriteFrom(
  tenantId: string,
  seq: number,
  q: (sql: string, params?: unknown[]) => Promise<any>,
): Promise<void> {
  const rows = await q(
    `SELECT seq::int, at, action, actor_id, target_type, target_id, data, prev_hash, hash FROM audit_events WHERE tenant_id = $1 ORDER BY seq`,
    [tenantId],
  );
  let prev = rows.find((r: { seq: number }) => r.seq === seq - 1)?.hash ?? '0'.repeat(64);
  for (const r of rows.filter((x: { seq: number }) => x.seq >= seq)) {
    const data = r.seq === seq ? { ...r.data, name: 'forged:x:read' } : r.data;
    const hash = eventHash(prev, {
      tenantId,
      seq: r.seq,
      at: r.at,
      action: r.action,
      actorId: r.actor_id,
      targetType: r.target_type,
      targetId: r.target_id,
      data,
    });
    await q(`UPDATE audit_events SET data = $3, prev_hash = $4, hash = $5 WHERE tenant_id = $1 AND seq = $2`, [
      tenantId,
      r.seq,
      JSON.stringify(data),
      prev,
      hash,
    ]);
    prev = hash;
  }
  await q(`UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1`, [tenantId, prev]);
}

/** Waits until the relay has published (and so signed the checkpoints of) everything the tenant appended. */
const relayCaughtUp = (t: TenantFixture) =>
  waitFor(
    async () =>
      (
        await api.sql(
          `SELECT h.seq = r.published_seq AS done FROM audit_heads h JOIN audit_relay r USING (tenant_id) WHERE h.tenant_id = $1`,
          [t.tenantId],
        )
      )[0]?.done,
    (done) => done === true,
  );

const check = async (t: TenantFixture) =>
  (
    await api.ok(
      t.adminToken,
      `{ verifyAuditChain { valid firstBrokenSeq checkpoints problem signedThrough unsignedTail } }`,
    )
  ).verifyAuditChain;

it('a clean chain verifies with its checkpoints, and says how many events follow the last one', async () => {
  const t = await victim();
  const [{ head }] = await api.sql(`SELECT seq::int AS head FROM audit_heads WHERE tenant_id = $1`, [t.tenantId]);
  expect(await check(t)).toEqual({
    valid: true,
    firstBrokenSeq: null,
    checkpoints: 2,
    problem: null,
    signedThrough: 20,
    unsignedTail: head - 20,
  });
});

it('a cut tail after the last checkpoint, with the head moved back, is caught by what the relay published', async () => {
  const t = await victim();
  await asSuperuserWithoutGuards(api, async (q) => {
    await q(`DELETE FROM audit_events WHERE tenant_id = $1 AND seq > 22`, [t.tenantId]);
    await q(
      `UPDATE audit_heads h SET seq = 22, hash = e.hash FROM audit_events e WHERE h.tenant_id = $1 AND e.tenant_id = $1 AND e.seq = 22`,
      [t.tenantId],
    );
  });
  expect(await check(t)).toMatchObject({
    valid: false,
    firstBrokenSeq: 23,
    problem: expect.stringMatching(/relay published events up to seq 2\d, past the chain's end \(seq 22\)/),
  });
});

it('a consistent rewrite is caught by the checkpoint it contradicts', async () => {
  const t = await victim();
  await asSuperuserWithoutGuards(api, (q) => rewriteFrom(t.tenantId, 5, q));
  expect(await check(t)).toMatchObject({
    valid: false,
    firstBrokenSeq: 10,
    problem: expect.stringMatching(/differs from its signed checkpoint/),
  });
});

it('a consistent rewrite with the checkpoints deleted is caught by the one that is missing', async () => {
  const t = await victim();
  await asSuperuserWithoutGuards(api, async (q) => {
    await rewriteFrom(t.tenantId, 5, q);
    await q(`DELETE FROM audit_checkpoints WHERE tenant_id = $1`, [t.tenantId]);
  });
  expect(await check(t)).toMatchObject({
    valid: false,
    firstBrokenSeq: 20,
    problem: expect.stringMatching(/checkpoint at seq 20 is missing/),
  });
});

it('a cut tail with the head moved back is caught by a checkpoint past the end', async () => {
  const t = await victim();
  await asSuperuserWithoutGuards(api, async (q) => {
    await q(`DELETE FROM audit_events WHERE tenant_id = $1 AND seq > 15`, [t.tenantId]);
    await q(
      `UPDATE audit_heads h SET seq = 15, hash = e.hash FROM audit_events e WHERE h.tenant_id = $1 AND e.tenant_id = $1 AND e.seq = 15`,
      [t.tenantId],
    );
  });
  expect(await check(t)).toMatchObject({
    valid: false,
    firstBrokenSeq: 16,
    problem: expect.stringMatching(/past the chain's end/),
  });
});

it('offline, a fresh export of a rewritten chain verifies alone but not against an earlier export', async () => {
  const t = await victim();
  const exportNow = async () => {
    const res = await fetch(`${api.url}/v1/audit/export`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    const file = join(dir, `e-${Math.random().toString(36).slice(2)}.ndjson`);
    writeFileSync(file, await res.text());
    return file;
  };
  const run = (...args: string[]) => {
    try {
      return {
        code: 0,
        out: execFileSync(process.execPath, [VERIFY, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
      };
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      return { code: err.status, out: err.stdout + err.stderr };
    }
  };
  const earlier = await exportNow();
  const first = run(earlier);
  expect(first.code).toBe(0);
  const [, headSeq, headHash] = /head: (\d+):([0-9a-f]{64})/.exec(first.out)!;
  // Untouched, a later export extends the earlier one.
  expect(run(await exportNow(), '--after', earlier).code).toBe(0);
  // Every export appends its own event: let the relay sign what it owes before the forger acts, so
  // that no checkpoint of the genuine chain lands after the rewrite.
  await relayCaughtUp(t);
  await asSuperuserWithoutGuards(api, async (q) => {
    await rewriteFrom(t.tenantId, 5, q);
    await q(`DELETE FROM audit_checkpoints WHERE tenant_id = $1`, [t.tenantId]);
  });
  const later = await exportNow();
  // The server signs whatever the database holds: alone, the rewritten export looks fine...
  expect(run(later).code).toBe(0);
  // ...but it does not extend what was trusted before.
  for (const trusted of [
    ['--after', earlier],
    ['--trusted-head', `${headSeq}:${headHash}`],
  ]) {
    const r = run(later, ...trusted);
    expect(r.code, trusted.join(' ')).toBe(1);
    expect(r.out).toMatch(/BROKEN at line \d+: .*(rewritten|trusted head)/);
  }
});
