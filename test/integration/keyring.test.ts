// The key ring against a database of this file's own: a new active key with reveals running while
// the workers' re-wrap moves every data key under it (audited) and re-seals every secret sealed
// under the ring, the old key then dropped from the ring, start-up refusing a ring that lacks, or
// misnames, a key that wraps data keys and naming rows sealed under a key it lacks, and a webhook
// whose secret cannot be opened failing visibly, then delivered once its key is back.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createContainer } from '../../src/app/container';
import { startWorkers } from '../../src/app/worker';
import { sealWith } from '../../src/platform/secret-box';
import { loadConfig } from '../../src/platform/config';
import { createLogger } from '../../src/platform/logger';
import { startTestApi, type TestApi, testEnv } from '../helpers/api';
import { ownDatabase } from '../helpers/own-database';
import { CreateCredentialDocument, GrantCredentialDocument, RevealCredentialDocument } from '../generated/graphql';

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
const reveal = async (a: TestApi) =>
  (await a.ok(admin, RevealCredentialDocument, { name: NAME })).revealCredential.value;

const db = ownDatabase('keyring');
const deliveries: string[] = [];
let receiver: Server;
let hookUrl: string;
/** Every column the ring seals directly, and the key ids found in it. */
const sealedKeyIds = async (a: TestApi) =>
  (
    await a.sql(
      `SELECT DISTINCT k FROM (SELECT secret_key_id AS k FROM webhooks UNION ALL SELECT previous_secret_key_id FROM webhooks UNION ALL SELECT rotator_secret_key_id FROM credentials UNION ALL SELECT sealed_key_id FROM token_secrets) x WHERE k IS NOT NULL`,
    )
  ).map((r) => r.k);

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      deliveries.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  base = testEnv(db.env);
  const a = await start({});
  const bootstrap = db.bootstrapToken();
  const { createTenant } = await a.ok(
    bootstrap,
    `mutation { createTenant(input: { name: "keyring", adminName: "admin" }) { admin { id } adminToken { secret } } }`,
  );
  admin = createTenant.adminToken.secret;
  await a.ok(admin, CreateCredentialDocument, { input: { name: NAME, value: 'mixpanel-secret' } });
  await a.ok(admin, GrantCredentialDocument, { name: NAME, ownerId: createTenant.admin.id });
  expect(await reveal(a)).toBe('mixpanel-secret');
  // Sealed directly under the ring: a webhook's signing secret (rotated once, so its previous one
  // too) and a webhook rotator's signing secret.
  const { createWebhook } = await a.ok(
    admin,
    `mutation($u: String!) { createWebhook(url: $u, events: ["CREDENTIAL_UPDATED"]) { webhook { id } } }`,
    { u: hookUrl },
  );
  await a.ok(admin, `mutation($id: ID!) { rotateWebhookSecret(id: $id) { signingSecret } }`, {
    id: createWebhook.webhook.id,
  });
  await a.ok(
    admin,
    `mutation($u: String!) { setCredentialRotator(name: "${NAME}", input: { kind: WEBHOOK, url: $u, gracePeriod: "PT1H" }) { signingSecret } }`,
    { u: `${hookUrl}/rotate` },
  );
  await stop();
});

afterAll(async () => {
  await stop();
  await db.drop();
  receiver?.close();
});

describe('the key ring', () => {
  it('re-wraps every data key under a new active key while reveals go on, and audits it', async () => {
    // The old single ENCRYPTION_KEY stays in the ring under its old id; "k2" becomes active.
    const a = await start({ ENCRYPTION_KEYS: `k2:${NEW_KEY}` });
    const legacyId =
      a.container.config.keyring.activeKeyId === 'k2'
        ? [...a.container.config.keyring.keys.keys()].find((k) => k !== 'k2')
        : null;
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
    // What the ring seals directly moves too (the worker does both at start).
    expect(await sealedKeyIds(a)).toEqual([legacyId]);
    expect(await a.container.services.resealer.reseal()).toBe(3);
    expect(await sealedKeyIds(a)).toEqual(['k2']);
    await stop();

    // The old key can leave the ring now: nothing it wrapped or sealed is left.
    const b = await start({ ENCRYPTION_KEY: '', ENCRYPTION_KEYS: `k2:${NEW_KEY}` });
    expect([...b.container.config.keyring.keys.keys()]).toEqual(['k2']);
    expect(await reveal(b)).toBe('mixpanel-secret');
    expect(await b.container.services.resealer.unreadable()).toEqual([]);
    const workers = await startWorkers(b.container);
    try {
      await b.ok(
        admin,
        `mutation { updateCredential(name: "${NAME}", input: { description: "delivered after the old key left" }) { name } }`,
      );
      await expect
        .poll(() => deliveries.some((d) => d.includes('delivered after the old key left')), { timeout: 10_000 })
        .toBe(true);
    } finally {
      await workers.stop();
    }
    await stop();
  });

  it('names rows sealed under a key the ring lacks; their deliveries fail visibly and go through once the key is back', async () => {
    const lostKey = key();
    const a = await start({ ENCRYPTION_KEY: '', ENCRYPTION_KEYS: `k2:${NEW_KEY}` });
    const [hook] = await a.sql(`SELECT id FROM webhooks`);
    // As if the endpoint's secret had been sealed under k9, and k9 then dropped from the ring.
    await a.sql(
      `UPDATE webhooks SET secret_ciphertext = $2, secret_key_id = 'k9', previous_secret_ciphertext = NULL, previous_secret_key_id = NULL, previous_secret_until = NULL WHERE id = $1`,
      [
        hook.id,
        sealWith(Buffer.from(lostKey, 'base64'), 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', hook.id),
      ],
    );
    expect(await a.container.services.resealer.unreadable()).toEqual([
      { table: 'webhooks', column: 'secret_ciphertext', keyId: 'k9', rows: 1 },
    ]);
    let workers = await startWorkers(a.container);
    const seen = deliveries.length;
    await a.ok(
      admin,
      `mutation { updateCredential(name: "${NAME}", input: { description: "waits for k9" }) { name } }`,
    );
    const ofEvent = `SELECT d.status, d.attempts, d.last_error FROM webhook_deliveries d JOIN audit_events e ON e.id = d.event_id WHERE d.webhook_id = $1 AND e.data->>'description' = $2`;
    const failing = async () => (await a.sql(ofEvent, [hook.id, 'waits for k9']))[0];
    await expect.poll(async () => (await failing())?.attempts ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(await failing()).toMatchObject({
      status: 'PENDING',
      last_error: expect.stringMatching(/sealed under key k9, which the key ring does not hold/),
    });
    expect(deliveries.length).toBe(seen);
    await workers.stop();
    await stop();

    // k9 is back in the ring: the delivery's next attempt goes through.
    const b = await start({ ENCRYPTION_KEY: '', ENCRYPTION_KEYS: `k2:${NEW_KEY},k9:${lostKey}` });
    workers = await startWorkers(b.container);
    try {
      await expect.poll(() => deliveries.some((d) => d.includes('waits for k9')), { timeout: 15_000 }).toBe(true);
      await expect
        .poll(async () => (await b.sql(ofEvent, [hook.id, 'waits for k9']))[0].status, { timeout: 5_000 })
        .toBe('DELIVERED');
    } finally {
      await workers.stop();
    }
    await stop();
  });

  it('refuses to start without the key that wraps data keys, or with a wrong key under its id, naming the id', async () => {
    const startWith = (ring: Record<string, string>) =>
      createContainer(loadConfig({ ...base, ENCRYPTION_KEY: '', ...ring }), createLogger('silent'));
    await expect(startWith({ ENCRYPTION_KEYS: `k3:${key()}` })).rejects.toThrow(
      /wrapped by key k2, which ENCRYPTION_KEYS does not hold/,
    );
    await expect(startWith({ ENCRYPTION_KEYS: `k2:${key()}` })).rejects.toThrow(
      /key k2 of ENCRYPTION_KEYS does not open the data keys it wrapped/,
    );
  });
});
