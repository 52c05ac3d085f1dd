// The process as a new user meets it: first start on an empty database, second start, config
// errors, and shutdown on SIGTERM.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withPg } from '../../scripts/shared/infra';
import { ownDatabase } from '../helpers/own-database';
import { spawnLatchkey } from '../helpers/process';

// A database nobody has created yet (the first start creates it), and queues of its own.
const db = ownDatabase('proc');
const databaseUrl = db.env.DATABASE_URL!;
const own = { DATABASE_URL: databaseUrl, REDIS_PREFIX: db.env.REDIS_PREFIX! };
const tokenFile = join(db.env.LATCHKEY_DATA_DIR!, 'secrets', 'bootstrap-token');

afterAll(() => db.drop());

const graphql = async (url: string, token: string, query: string): Promise<any> =>
  (
    await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    })
  ).json();

describe('first and second start', () => {
  it('creates the database, migrates, bootstraps once, and prints only the hint', async () => {
    const first = await spawnLatchkey({ ...own, BOOTSTRAP_TOKEN_FILE: tokenFile, BOOTSTRAP_TENANT_NAME: 'acme' });
    expect(first.url).not.toBeNull();
    const secret = readFileSync(tokenFile, 'utf8').trim();
    expect(secret).toMatch(/^lk_[0-9A-Za-z]{49}$/);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const boot = first.logs().find((l) => String(l.msg).startsWith('bootstrapped'));
    expect(boot?.tokenHint).toBe(`lk_…${secret.slice(-4)}`);
    expect(first.output()).not.toContain(secret);
    expect(first.output()).not.toContain(secret.slice(3, 20));

    const r = await graphql(first.url!, secret, '{ viewer { name roles { name permissions } } tenant { name } }');
    expect(r.data.tenant.name).toBe('acme');
    const perms = r.data.viewer.roles.flatMap((x: { permissions: string[] }) => x.permissions);
    expect(perms).toContain('PLATFORM_ADMIN');
    expect(perms).toContain('TENANT_ADMIN');
    const stopped = await first.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(10_000);

    const second = await spawnLatchkey({ ...own, BOOTSTRAP_TOKEN_FILE: tokenFile });
    expect(second.logs().some((l) => String(l.msg).startsWith('bootstrapped'))).toBe(false);
    expect(second.logs().some((l) => l.msg === 'ran migrations')).toBe(false);
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(secret);
    const again = await graphql(second.url!, secret, '{ viewer { name } }');
    expect(again.data.viewer.name).toBe('admin');
    expect(
      await withPg(databaseUrl, async (pg) => (await pg.query('SELECT count(*)::int AS n FROM tenants')).rows[0].n),
    ).toBe(1);
    expect((await second.stop()).code).toBe(0);
  });

  it('drains an in-flight request on SIGTERM and exits within 10 s', async () => {
    const p = await spawnLatchkey({ ...own, BOOTSTRAP_TOKEN_FILE: tokenFile });
    const secret = readFileSync(tokenFile, 'utf8').trim();
    const inflight = graphql(p.url!, secret, '{ verifyAuditChain { valid } }');
    await new Promise((r) => setTimeout(r, 5));
    const stopped = await p.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(10_000);
    expect((await inflight).data.verifyAuditChain.valid).toBe(true);
  });
});

describe('configuration errors stop the process with the variable named', () => {
  it.each([
    [{ PORT: 'abc' }, /PORT/],
    [{ LATCHKEY_ROLE: 'everything' }, /LATCHKEY_ROLE/],
    [
      { NODE_ENV: 'production', TOKEN_PEPPER: '', ENCRYPTION_KEY: '' },
      /TOKEN_PEPPER is required[\s\S]*ENCRYPTION_KEYS \(or ENCRYPTION_KEY\) is required/,
    ],
  ])('%j', async (env, message) => {
    const p = await spawnLatchkey({ ...own, ...env });
    const { code } = await p.exited;
    expect(code).toBe(1);
    expect(p.output()).toMatch(message);
  });

  it('names the setting and exits when Postgres or Redis does not answer at start, after a bounded, logged retry', async () => {
    for (const [setting, overrides] of [
      ['REDIS_URL', { REDIS_URL: 'redis://127.0.0.1:1' }],
      ['DATABASE_URL', { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/latchkey' }],
    ] as const) {
      const started = Date.now();
      const p = await spawnLatchkey({ ...overrides, STARTUP_TIMEOUT_MS: '1500' });
      const { code } = await p.exited;
      expect(code, setting).toBe(1);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(p.output()).toMatch(new RegExp(`failed to start: (Redis|Postgres) is not answering at ${setting}`));
      expect(p.output()).not.toMatch(/Unhandled error event|\n\s+at /);
      const retries = p
        .logs()
        .filter(
          (l) =>
            l.setting === setting &&
            l.msg === `${setting === 'REDIS_URL' ? 'Redis' : 'Postgres'} is not answering yet; retrying`,
        );
      expect(retries.length).toBeGreaterThanOrEqual(1);
      expect(p.logs().some((l) => l.setting === setting && l.level === 50)).toBe(true);
    }
  });
});
