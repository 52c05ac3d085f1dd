// A worker process killed (SIGKILL) while each rotation step is running:
// another worker picks the step up when its lock lapses, and the rotation completes exactly once
// (one new CURRENT version, one CREDENTIAL_ROTATED), the value unchanged until it does.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { newTenant, type TenantFixture, unique } from '../helpers/fixtures';
import { ownRedisPrefix } from '../helpers/own-database';
import { type LatchkeyProcess, spawnLatchkey } from '../helpers/process';
import { CreateCredentialDocument, RotateCredentialDocument } from '../generated/graphql';

const PREFIX = ownRedisPrefix('rotation-kill');
let api: TestApi;
let t: TenantFixture;
let rotator: Server;
let base: string;
let hangAt: string | null = null;
const hanging: ServerResponse[] = [];
const calls: Array<{ step: string; rotationId: string }> = [];
const workers: LatchkeyProcess[] = [];

const worker = async () => {
  const w = await spawnLatchkey(
    { REDIS_PREFIX: PREFIX, LATCHKEY_ROLE: 'worker', PLANNER_TICK_MS: '200', ROTATOR_BACKOFF_MS: '100' },
    { waitFor: /"msg":"workers started"/ },
  );
  workers.push(w);
  return w;
};

beforeAll(async () => {
  let n = 0;
  rotator = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const msg = JSON.parse(body);
      calls.push({ step: msg.step, rotationId: msg.rotationId });
      if (msg.step === hangAt) {
        hangAt = null; // only the first call hangs; the retry after the kill is answered
        hanging.push(res);
        return;
      }
      if (msg.step === 'create')
        return res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ value: `after-kill-${++n}` }));
      res.writeHead(204).end();
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => rotator.once('listening', r));
  base = `http://127.0.0.1:${(rotator.address() as AddressInfo).port}`;
  api = await startTestApi({ REDIS_PREFIX: PREFIX });
  t = await newTenant(api);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  for (const res of hanging) res.destroy();
  rotator?.close();
  await api?.close();
});

describe('a worker killed in the middle of a rotation step', () => {
  for (const step of ['create', 'set', 'test', 'finish']) {
    it(`at ${step}: the rotation completes exactly once on another worker`, async () => {
      const name = unique(`kill-${step}`).toLowerCase();
      await api.ok(t.adminToken, CreateCredentialDocument, { input: { name, value: 'before' } });
      await api.ok(
        t.adminToken,
        `mutation($n: String!, $u: String!) { setCredentialRotator(name: $n, input: { kind: WEBHOOK, url: $u, gracePeriod: "PT1H" }) { signingSecret } }`,
        { n: name, u: `${base}/rotate` },
      );
      const first = await worker();
      hangAt = step;
      const { rotateCredential } = await api.ok(t.adminToken, RotateCredentialDocument, { name });
      await expect
        .poll(() => calls.filter((c) => c.rotationId === rotateCredential.id && c.step === step).length, {
          timeout: 15_000,
        })
        .toBe(1);
      await first.stop('SIGKILL');
      const versions = () =>
        api.sql(
          `SELECT version, state FROM credential_versions v JOIN credentials c ON c.id = v.credential_id WHERE c.tenant_id = $1 AND c.name = $2 ORDER BY version`,
          [t.tenantId, name],
        );
      expect((await versions()).find((v) => v.state === 'CURRENT')).toEqual({ version: 1, state: 'CURRENT' });

      const second = await worker();
      await expect
        .poll(
          async () =>
            (await api.sql(`SELECT state FROM credential_rotations WHERE id = $1`, [rotateCredential.id]))[0].state,
          { timeout: 40_000, interval: 250 },
        )
        .toBe('DONE');
      expect(await versions()).toEqual([
        { version: 1, state: 'PREVIOUS' },
        { version: 2, state: 'CURRENT' },
      ]);
      expect(
        await api.sql(`SELECT 1 FROM audit_events WHERE action = 'CREDENTIAL_ROTATED' AND data->>'rotationId' = $1`, [
          rotateCredential.id,
        ]),
      ).toHaveLength(1);
      // create is called again only when its answer never arrived (the kill came first).
      expect(calls.filter((c) => c.rotationId === rotateCredential.id && c.step === 'create')).toHaveLength(
        step === 'create' ? 2 : 1,
      );
      await second.stop('SIGKILL');
    }, 60_000);
  }
});
