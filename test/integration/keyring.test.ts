// The key ring against a database of this file's own: a new active key with reveals running while
// the workers' re-wrap moves every data key under it (audited), the old key then dropped from the
// ring, and start-up refusing a ring that lacks, or misnames, a key that wraps data keys.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainer } from '../../src/app/container';
import { loadConfig } from '../../src/platform/config';
import { createLogger } from '../../src/platform/logger';
import { startTestApi, type TestApi, testEnv } from '../helpers/api';
import { ownDatabase } from '../helpers/own-database';

const key = () => randomBytes(32).toString('base64');
const NEW_KEY = key();
let base: Record<string, string>;
let api: TestApi | null = null;
let admin: string;
const NAME = 'analytics-token';

const start = async (ring: Record<string, string>) => {
  api = await startTestApi({ ...base, ...ring });
  return api;
};
const stop = async () => {
  await api?.close();
  api = null;
};
const reveal = async (a: TestApi) => (await a.ok(admin, `mutation($n: String!) { revealCredential(name: $n) { value } }`, { n: NAME })).revealCredential.value;

const db = ownDatabase('keyring');

beforeAll(async () => {
  base = testEnv(db.env);
  const a = await start({});
  const bootstrap = db.bootstrapToken();
  const { createTenant } = await a.ok(bootstrap, `mutation { createTenant(input: { name: "keyring", adminName: "admin" }) { admin { id } adminToken { secret } } }`);
  admin = createTenant.adminToken.secret;
  await a.ok(admin, `mutation { createCredential(input: { name: "${NAME}", value: "mixpanel-secret" }) { id } }`);
  await a.ok(admin, `mutation($o: ID!) { grantCredential(name: "${NAME}", ownerId: $o) { ownerId } }`, { o: createTenant.admin.id });
  expect(await reveal(a)).toBe('mixpanel-secret');
  await stop();
});

afterAll(async () => {
  await stop();
  await db.drop();
});

describe('the key ring', () => {
  it('re-wraps every data key under a new active key while reveals go on, and audits it', async () => {
    // The old single ENCRYPTION_KEY stays in the ring under its old id; "k2" becomes active.
    const a = await start({ ENCRYPTION_KEYS: `k2:${NEW_KEY}` });
    const legacyId = a.container.config.keyring.activeKeyId === 'k2' ? [...a.container.config.keyring.keys.keys()].find((k) => k !== 'k2') : null;
    expect(legacyId).toMatch(/^[0-9a-f]{8}$/);
    let stopReveals = false;
    const values: string[] = [];
    const revealing = (async () => {
      while (!stopReveals) values.push(await reveal(a));
    })();
    const moved = await a.container.services.dataKeys.rewrap();
    await new Promise((r) => setTimeout(r, 200));
    stopReveals = true;
    await revealing;
    expect(moved).toBeGreaterThanOrEqual(1);
    expect(values.length).toBeGreaterThan(0);
    expect(new Set(values)).toEqual(new Set(['mixpanel-secret']));
    const keys = await a.sql(`SELECT key_id, rewrapped_at FROM tenant_data_keys`);
    expect(keys.map((k) => k.key_id)).toEqual(keys.map(() => 'k2'));
    const audited = await a.sql(`SELECT data FROM audit_events WHERE action = 'DATA_KEY_REWRAPPED'`);
    expect(audited).toEqual(keys.map(() => ({ data: { from: legacyId, to: 'k2' } })));
    expect(await a.container.services.dataKeys.rewrap()).toBe(0);
    await stop();

    // The old key can leave the ring now: nothing it wrapped is left.
    const b = await start({ ENCRYPTION_KEY: '', ENCRYPTION_KEYS: `k2:${NEW_KEY}` });
    expect([...b.container.config.keyring.keys.keys()]).toEqual(['k2']);
    expect(await reveal(b)).toBe('mixpanel-secret');
    await stop();
  });

  it('refuses to start without the key that wraps data keys, or with a wrong key under its id, naming the id', async () => {
    const startWith = (ring: Record<string, string>) => createContainer(loadConfig({ ...base, ENCRYPTION_KEY: '', ...ring }), createLogger('silent'));
    await expect(startWith({ ENCRYPTION_KEYS: `k3:${key()}` })).rejects.toThrow(/wrapped by key k2, which ENCRYPTION_KEYS does not hold/);
    await expect(startWith({ ENCRYPTION_KEYS: `k2:${key()}` })).rejects.toThrow(/key k2 of ENCRYPTION_KEYS does not open the data keys it wrapped/);
  });
});
