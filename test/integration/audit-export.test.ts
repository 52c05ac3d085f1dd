// Export for SIEMs and offline verification: the NDJSON export checks out with the public key from
// /v1/audit/keys; a changed byte is named by line; a cut tail is caught by the signed head.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkExport, keyRing } from '../../src/audit/export-check';
import { jsonOf, startTestApi, type TestApi, waitFor } from '../helpers/api';
import { newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';
import { CreateScopeDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let exported: string;
let publicKey: string;
const dir = mkdtempSync(join(tmpdir(), 'latchkey-export-'));
const VERIFY = resolve(__dirname, '..', '..', 'dist', 'scripts', 'audit-verify.js');

function verifyFile(text: string, key?: string): { code: number; out: string } {
  const file = join(dir, `export-${Math.random().toString(36).slice(2)}.ndjson`);
  writeFileSync(file, text);
  try {
    const out = execFileSync(process.execPath, [VERIFY, file, ...(key ? ['--key', key] : [])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, out: err.stdout + err.stderr };
  }
}

beforeAll(async () => {
  api = await startTestApi(); // checkpoints every 10 events in tests (global setup)
  t = await newTenant(api);
  for (let i = 0; i < 30; i++) await api.ok(t.adminToken, CreateScopeDocument, { input: { name: `exp${i}:x:read` } });
  // The relay signs checkpoints as it publishes: wait for the ones at seq 10, 20 and 30.
  await waitFor(
    async () =>
      (await api.sql(`SELECT count(*)::int AS n FROM audit_checkpoints WHERE tenant_id = $1`, [t.tenantId]))[0].n,
    (n) => n >= 3,
  );
  const res = await fetch(`${api.url}/v1/audit/export`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/x-ndjson');
  exported = await res.text();
  publicKey = (await jsonOf(await fetch(`${api.url}/v1/audit/keys`))).keys[0].publicKey;
});
afterAll(() => api.close());

describe('audit export', () => {
  it('streams every event with its chain fields, the checkpoints and a signed head', () => {
    const lines = exported
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'export', tenantId: t.tenantId, algorithm: 'Ed25519' });
    const events = lines.filter((l) => l.type === 'event');
    expect(events.length).toBeGreaterThanOrEqual(30);
    expect(events[0]).toMatchObject({ seq: 1, prevHash: '0'.repeat(64) });
    for (const e of events)
      expect(Object.keys(e)).toEqual(
        expect.arrayContaining([
          'id',
          'seq',
          'at',
          'action',
          'actorId',
          'targetType',
          'targetId',
          'data',
          'prevHash',
          'hash',
        ]),
      );
    expect(lines.filter((l) => l.type === 'checkpoint').map((l) => l.seq)).toEqual(
      expect.arrayContaining([10, 20, 30]),
    );
    expect(lines.at(-1)).toMatchObject({ type: 'head', seq: events.at(-1).seq, hash: events.at(-1).hash });
  });

  it('verifies offline with the published key', () => {
    const report = checkExport(exported, keyRing([Buffer.from(publicKey, 'base64')]));
    expect(report).toMatchObject({ ok: true, brokenLine: null, firstSeq: 1, checkpoints: 3, selfKeyed: false });
    const run = verifyFile(exported, publicKey);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/OK — \d+ events \(seq 1\.\.\d+\), 3 signed checkpoints/);
  });

  it('takes the documented form without --key (checked against the key in the file, and says so)', () => {
    const r = verifyFile(exported);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/OK — \d+ events/);
    expect(r.out).toMatch(/checked against the keys inside the file/);
  });

  it('answers a malformed --key or a missing file with a usage error, not a stack trace', () => {
    for (const key of ['not-base64!', Buffer.alloc(31).toString('base64'), 'AAAA']) {
      const r = verifyFile(exported, key);
      expect(r.code, key).toBe(64);
      expect(r.out).toMatch(/--key must be a base64 Ed25519 public key/);
      expect(r.out).not.toMatch(/at .*\(node:|OpenSSL|ERR_/);
    }
    let missing: { status: number; stderr: string } | null = null;
    try {
      execFileSync(process.execPath, [VERIFY, join(dir, 'no-such-export.ndjson')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      missing = e as { status: number; stderr: string };
    }
    expect(missing?.status).toBe(66);
    expect(missing?.stderr).toMatch(/cannot be read \(ENOENT\)/);
  });

  it('names the line where one byte was changed', () => {
    const lines = exported.split('\n');
    const target = lines.findIndex((l) => l.includes('"exp17:x:read"'));
    lines[target] = lines[target]!.replace('exp17', 'exp18');
    const run = verifyFile(lines.join('\n'), publicKey);
    expect(run.code).toBe(1);
    expect(run.out).toContain(`BROKEN at line ${target + 1}:`);
  });

  it('catches a cut tail through the signed head', () => {
    const lines = exported.trim().split('\n');
    const cut = lines.slice(0, -4).join('\n');
    const run = verifyFile(cut, publicKey);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/cut short/);
    // Dropping events but keeping the head line does not pass either.
    const withoutEvents = [...lines.slice(0, -4), lines.at(-1)].join('\n');
    expect(checkExport(withoutEvents, keyRing([Buffer.from(publicKey, 'base64')])).problem).toMatch(
      /events were removed/,
    );
  });

  it('refuses a forged signature and a foreign key', () => {
    const lines = exported.trim().split('\n');
    const head = JSON.parse(lines.at(-1)!);
    head.signature = Buffer.alloc(64).toString('base64');
    const forged = [...lines.slice(0, -1), JSON.stringify(head)].join('\n');
    expect(checkExport(forged, keyRing([Buffer.from(publicKey, 'base64')])).problem).toMatch(/signature/);
    const otherKey = Buffer.alloc(32, 7);
    expect(checkExport(exported, keyRing([otherKey])).ok).toBe(false);
  });

  it('exports from a seq on, with a limit, needs AUDIT_READ, and is itself audited', async () => {
    const part = await (
      await fetch(`${api.url}/v1/audit/export?afterSeq=12&limit=5`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      })
    ).text();
    const report = checkExport(part, keyRing([Buffer.from(publicKey, 'base64')]));
    expect(report).toMatchObject({ ok: true, firstSeq: 13, lastSeq: 17, events: 5 });
    const dev = await newPrincipal(api, t.adminToken, ['developer']);
    expect(
      (await fetch(`${api.url}/v1/audit/export`, { headers: { authorization: `Bearer ${dev.token}` } })).status,
    ).toBe(403);
    expect(
      (await fetch(`${api.url}/v1/audit/export?limit=abc`, { headers: { authorization: `Bearer ${t.adminToken}` } }))
        .status,
    ).toBe(400);
    const [row] = await api.sql(
      `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action = 'AUDIT_EXPORTED'`,
      [t.tenantId],
    );
    expect(row.n).toBeGreaterThanOrEqual(2);
  });
});
