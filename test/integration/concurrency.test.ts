// Concurrent writers: rotations of one token, audit appends from many transactions, and the
// chain catching a change made behind the append-only trigger's back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { issue, newTenant, type TenantFixture } from '../helpers/fixtures';
import { asSuperuserWithoutGuards } from '../helpers/tamper';
import { CreateOwnerDocument, CreateScopeDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
});
afterAll(() => api.close());

describe('concurrency', () => {
  it('issues a burst of CONTROL tokens for another owner without starving the connection pool', async () => {
    // Each issue checks the owner's permissions inside its transaction; read on a second
    // connection, 10 transactions holding the 10 pooled connections waited for an 11th until
    // time-out, and the burst ended in internal errors at a few tokens a second.
    const { createOwner } = await api.ok(t.adminToken, CreateOwnerDocument, {
      input: { kind: 'SERVICE', name: 'burst' },
    });
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        api.gql(
          t.adminToken,
          `mutation($o: ID!, $n: String!) { issueToken(input: { ownerId: $o, name: $n, scopes: [] }) { token { id kind } } }`,
          { o: createOwner.id, n: `burst-${i}` },
        ),
      ),
    );
    expect(results.filter((r) => r.errors).map((r) => r.errors![0]!.message)).toEqual([]);
    expect(new Set(results.map((r) => r.data.issueToken.token.kind))).toEqual(new Set(['CONTROL']));
    expect(Date.now() - started).toBeLessThan(5_000); // the pool's connection time-out
  });

  it('10 rotations of one token at once: each gets its own generation, never two CURRENT secrets', async () => {
    const tok = await issue(api, t.adminToken, t.adminId, []);
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        api.gql(t.adminToken, `mutation($id: ID!) { rotateToken(id: $id) { secret token { generation } } }`, {
          id: tok.id,
        }),
      ),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    const generations = results.map((r) => r.data.rotateToken.token.generation).sort((a: number, b: number) => a - b);
    expect(generations).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(new Set(results.map((r) => r.data.rotateToken.secret)).size).toBe(10);
    const states = await api.sql(
      `SELECT state, count(*)::int AS n FROM token_secrets WHERE token_id = $1 GROUP BY state ORDER BY state`,
      [tok.id],
    );
    expect(states).toEqual([
      { state: 'CURRENT', n: 1 },
      { state: 'PREVIOUS', n: 1 },
      { state: 'RETIRED', n: 9 },
    ]);
    const audit = await api.sql(
      `SELECT count(*)::int AS n FROM audit_events WHERE target_id = $1 AND action = 'TOKEN_ROTATED'`,
      [tok.id],
    );
    expect(audit[0].n).toBe(10);
  });

  it('the database itself refuses a second CURRENT secret', async () => {
    const tok = await issue(api, t.adminToken, t.adminId, []);
    await expect(
      api.sql(
        `INSERT INTO token_secrets (id, tenant_id, token_id, generation, hash, hint, state) VALUES (gen_random_uuid(), $1, $2, 2, repeat('a', 64), 'x', 'CURRENT')`,
        [t.tenantId, tok.id],
      ),
    ).rejects.toThrow(/token_secrets_one_current/);
  });

  it('concurrent audit appends leave no gap and a valid chain', async () => {
    const before = (await api.sql(`SELECT max(seq)::int AS s FROM audit_events WHERE tenant_id = $1`, [t.tenantId]))[0]
      .s;
    const writes = Array.from({ length: 40 }, (_, i) =>
      api.gql(t.adminToken, CreateScopeDocument, { input: { name: `svc${i}:things:read` } }),
    );
    // Half of these fail (duplicate names) after taking no seq: a refused request writes nothing.
    const dupes = Array.from({ length: 20 }, (_, i) =>
      api.gql(t.adminToken, CreateScopeDocument, { input: { name: `svc${i}:things:read` } }),
    );
    await Promise.all([...writes, ...dupes]);
    const seqs = (
      await api.sql(`SELECT seq::int FROM audit_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq`, [
        t.tenantId,
        before,
      ])
    ).map((r: { seq: number }) => r.seq);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => before + 1 + i));
    const { verifyAuditChain } = await api.ok(t.adminToken, `{ verifyAuditChain { valid checked firstBrokenSeq } }`);
    expect(verifyAuditChain).toEqual({ valid: true, checked: before + 40, firstBrokenSeq: null });
  });
});

describe('the audit log is append-only and tamper-evident', () => {
  it('refuses UPDATE, DELETE and TRUNCATE, even for a superuser', async () => {
    await expect(api.sql(`UPDATE audit_events SET action = 'X_Y' WHERE tenant_id = $1`, [t.tenantId])).rejects.toThrow(
      /append-only/,
    );
    await expect(api.sql(`DELETE FROM audit_events WHERE tenant_id = $1`, [t.tenantId])).rejects.toThrow(/append-only/);
    await expect(api.sql(`TRUNCATE audit_events`)).rejects.toThrow(/append-only/);
  });

  it('guards the head and the checkpoints too, and session_replication_role = replica does not switch the guards off', async () => {
    await api.ok(t.adminToken, CreateScopeDocument, { input: { name: 'guard:x:read' } });
    const qr = api.container.ds.createQueryRunner();
    await qr.connect();
    try {
      for (const replica of [false, true]) {
        if (replica) await qr.query(`SET session_replication_role = replica`);
        await expect(
          qr.query(`UPDATE audit_events SET action = 'X_Y' WHERE tenant_id = $1`, [t.tenantId]),
        ).rejects.toThrow(/append-only/);
        await expect(
          qr.query(`UPDATE audit_heads SET seq = seq - 1 WHERE tenant_id = $1`, [t.tenantId]),
        ).rejects.toThrow(/only forward/);
        await expect(qr.query(`DELETE FROM audit_heads WHERE tenant_id = $1`, [t.tenantId])).rejects.toThrow(/refused/);
        await expect(qr.query(`TRUNCATE audit_checkpoints`)).rejects.toThrow(/append-only/);
        await expect(
          qr.query(`UPDATE audit_relay SET published_seq = 0 WHERE tenant_id = $1`, [t.tenantId]),
        ).rejects.toThrow(/only forward/);
      }
    } finally {
      await qr.query(`SET session_replication_role = origin`).catch(() => undefined);
      await qr.release();
    }
    const { verifyAuditChain } = await api.ok(t.adminToken, `{ verifyAuditChain { valid } }`);
    expect(verifyAuditChain.valid).toBe(true);
  });

  it('names the first changed seq when a row is altered behind the trigger', async () => {
    const victim = await newTenant(api);
    for (let i = 0; i < 5; i++)
      await api.ok(victim.adminToken, CreateScopeDocument, { input: { name: `x${i}:y:read` } });
    await asSuperuserWithoutGuards(api, async (q) => {
      await q(`UPDATE audit_events SET data = '{"name":"forged"}' WHERE tenant_id = $1 AND seq = 7`, [victim.tenantId]);
    });
    const { verifyAuditChain } = await api.ok(
      victim.adminToken,
      `{ verifyAuditChain { valid checked firstBrokenSeq } }`,
    );
    expect(verifyAuditChain).toEqual({ valid: false, checked: 7, firstBrokenSeq: 7 });
  });

  it('notices events removed from the end', async () => {
    const victim = await newTenant(api);
    await api.ok(victim.adminToken, CreateScopeDocument, { input: { name: 'a:b:read' } });
    const [{ s }] = await api.sql(`SELECT max(seq)::int AS s FROM audit_events WHERE tenant_id = $1`, [
      victim.tenantId,
    ]);
    await asSuperuserWithoutGuards(api, async (q) => {
      await q(`DELETE FROM audit_events WHERE tenant_id = $1 AND seq = $2`, [victim.tenantId, s]);
    });
    const { verifyAuditChain } = await api.ok(victim.adminToken, `{ verifyAuditChain { valid firstBrokenSeq } }`);
    expect(verifyAuditChain).toEqual({ valid: false, firstBrokenSeq: s });
  });
});
