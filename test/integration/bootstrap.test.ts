// The bootstrap admin: its first token expires, long-lived platform admin tokens are found for the
// start-up warning, and a break-glass token can be had by whoever runs the server.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapToken, startTestApi, testEnv, type TestApi } from '../helpers/api';
import { unique } from '../helpers/fixtures';
import { RevokeTokenDocument } from '../generated/graphql';

const run = promisify(execFile);
const ADMIN_TOKEN = resolve(__dirname, '..', '..', 'dist', 'scripts', 'admin-token.js');

let api: TestApi;
let bootstrapTokenId: string;

beforeAll(async () => {
  api = await startTestApi();
  const [row] = await api.sql(`SELECT id FROM tokens WHERE name = 'initial admin token' ORDER BY id LIMIT 1`);
  bootstrapTokenId = row.id;
});
afterAll(() => api.close());

describe('the bootstrap admin token', () => {
  it('expires after BOOTSTRAP_TOKEN_TTL (a day by default)', async () => {
    const [t] = await api.sql(
      `SELECT extract(epoch FROM expires_at - created_at)::int AS ttl FROM tokens WHERE id = $1`,
      [bootstrapTokenId],
    );
    expect(t.ttl).toBeGreaterThanOrEqual(86_399);
    expect(t.ttl).toBeLessThanOrEqual(86_401);
  });

  it('is reported at start while it is live past that, or never expires', async () => {
    const found = () => api.container.services.tenants.longLivedPlatformTokens(api.container.config.bootstrapTokenTtlS);
    expect((await found()).map((t) => t.id)).not.toContain(bootstrapTokenId);
    const [{ expires_at: was }] = await api.sql(`SELECT expires_at FROM tokens WHERE id = $1`, [bootstrapTokenId]);
    // As a token bootstrapped before tokens expired: no expiry at all.
    await api.sql(`UPDATE tokens SET expires_at = NULL WHERE id = $1`, [bootstrapTokenId]);
    try {
      expect((await found()).map((t) => t.id)).toContain(bootstrapTokenId);
    } finally {
      await api.sql(`UPDATE tokens SET expires_at = $2 WHERE id = $1`, [bootstrapTokenId, was]);
    }
  });
});

describe('npm run admin:token (break glass)', () => {
  it('prints a platform admin token that expires within the hour, and audits it', async () => {
    const { stdout } = await run(
      process.execPath,
      [ADMIN_TOKEN, '--ttl', 'PT30M', '--reason', 'tenant for the sales team'],
      { env: { ...process.env, ...testEnv() } },
    );
    const secret = stdout.trim();
    expect(secret).toMatch(/^lk_[0-9A-Za-z]{49}$/);
    const created = await api.ok(
      secret,
      `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
      { input: { name: unique('glass'), adminName: 'admin' } },
    );
    expect(created.createTenant.tenant.id).toBeTruthy();
    const [tok] = await api.sql(
      `SELECT t.id, extract(epoch FROM t.expires_at - t.created_at)::int AS ttl, t.description FROM tokens t WHERE t.name = 'platform admin (break glass)' ORDER BY t.id DESC LIMIT 1`,
    );
    expect(tok.ttl).toBe(1800);
    expect(tok.description).toBe('tenant for the sales team');
    const audited = await api.sql(
      `SELECT actor_id FROM audit_events WHERE target_id = $1 AND action = 'TOKEN_ISSUED'`,
      [tok.id],
    );
    expect(audited).toEqual([{ actor_id: null }]);
    // The bootstrap token is untouched.
    expect((await api.gql(bootstrapToken(), `{ viewer { id } }`)).errors).toBeUndefined();
  });

  it('refuses a lifetime past a day with a usage error, issuing nothing', async () => {
    const before = (
      await api.sql(`SELECT count(*)::int AS n FROM tokens WHERE name = 'platform admin (break glass)'`)
    )[0].n;
    const failed = await run(process.execPath, [ADMIN_TOKEN, '--ttl', 'P2D'], {
      env: { ...process.env, ...testEnv() },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(64);
    expect((failed as { stderr: string }).stderr).toMatch(/--ttl must be from PT1M to P1D/);
    expect(
      (await api.sql(`SELECT count(*)::int AS n FROM tokens WHERE name = 'platform admin (break glass)'`))[0].n,
    ).toBe(before);
  });

  it('with --tenant, gives a tenant that lost every admin token a short-lived token of its administrator, audited in its chain', async () => {
    const name = unique('locked-out');
    const made = await api.ok(
      bootstrapToken(),
      `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } admin { id } adminToken { secret token { id } } } }`,
      {
        input: { name, adminName: 'admin' },
      },
    );
    const { tenant, admin, adminToken } = made.createTenant;
    await api.ok(adminToken.secret, RevokeTokenDocument, { id: adminToken.token.id, reason: 'lost' });
    const { stdout } = await run(
      process.execPath,
      [ADMIN_TOKEN, '--tenant', name, '--ttl', 'PT15M', '--reason', 'admins locked out'],
      { env: { ...process.env, ...testEnv() } },
    );
    const secret = stdout.trim();
    expect((await api.ok(secret, `{ viewer { id } }`)).viewer.id).toBe(admin.id);
    const [tok] = await api.sql(
      `SELECT id, tenant_id, name, extract(epoch FROM expires_at - created_at)::int AS ttl FROM tokens WHERE tenant_id = $1 AND status = 'ACTIVE'`,
      [tenant.id],
    );
    expect(tok).toMatchObject({ tenant_id: tenant.id, name: 'tenant admin (break glass)', ttl: 900 });
    expect(
      await api.sql(
        `SELECT actor_id, data->>'name' AS name FROM audit_events WHERE tenant_id = $1 AND target_id = $2 AND action = 'TOKEN_ISSUED'`,
        [tenant.id, tok.id],
      ),
    ).toEqual([{ actor_id: null, name: 'tenant admin (break glass)' }]);
  });

  it('with an unknown --tenant, says so and issues nothing', async () => {
    const before = (await api.sql(`SELECT count(*)::int AS n FROM tokens`))[0].n;
    const failed = await run(process.execPath, [ADMIN_TOKEN, '--tenant', 'no-such-tenant'], {
      env: { ...process.env, ...testEnv() },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(66);
    expect((failed as { stderr: string }).stderr).toMatch(/no-such-tenant/);
    expect((await api.sql(`SELECT count(*)::int AS n FROM tokens`))[0].n).toBe(before);
  });
});
