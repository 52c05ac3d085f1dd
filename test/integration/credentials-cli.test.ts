// Managed credentials from the command line (the real binary over HTTP) and from the Node client:
// values in on stdin and out alone on stdout, names for owners, history with every reveal,
// `latchkey run` restarting its command with the new value, and a consumer following a rotation
// (credentialChanged, ETag revalidation, one retry when the vendor refuses the old value).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startWorkers, type Workers } from '../../src/app/worker';
import { CredentialsClient } from '../../src/client/credentials';
import { startTestApi, type TestApi } from '../helpers/api';
import { BIN, cliRunner } from '../helpers/cli';
import { issue, newTenant, type TenantFixture } from '../helpers/fixtures';
import { ownDatabase } from '../helpers/own-database';
import { CreateOwnerDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let dir: string;
/** homepage-dashboard-backend with a CONTROL token (it follows changes over WebSocket). */
let backend: { id: string; token: string };
let workers: Workers;
/** Of its own: the events credentialChanged follows are published by this file's relay only. */
const db = ownDatabase('credentials_cli');

const latchkey = cliRunner(
  () => api.url,
  () => t.adminToken,
);

beforeAll(async () => {
  api = await startTestApi({ ...db.env, ROTATOR_BACKOFF_MS: '50' });
  workers = await startWorkers(api.container);
  t = await newTenant(api, db.bootstrapToken());
  dir = mkdtempSync(join(tmpdir(), 'latchkey-credentials-'));
  const { createOwner } = await api.ok(t.adminToken, CreateOwnerDocument, {
    input: { kind: 'SERVICE', name: 'homepage-dashboard-backend' },
  });
  backend = { id: createOwner.id, token: (await issue(api, t.adminToken, createOwner.id, [])).secret };
});

afterAll(async () => {
  await workers?.stop();
  await api?.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('latchkey credentials', () => {
  it('creates from stdin, grants by owner name, and prints the value alone for the granted consumer', async () => {
    const created = await latchkey(['credentials', 'create', 'crm-sales-readonly', '--service', 'salesforce'], {
      input: 'crm-key-one\n',
    });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/name:\s+crm-sales-readonly/);

    const denied = await latchkey(['credentials', 'get', 'crm-sales-readonly'], { token: backend.token });
    expect(denied.code).toBe(5);
    expect(denied.stdout).toBe('');

    const granted = await latchkey([
      'credentials',
      'grant',
      'crm-sales-readonly',
      '--owner',
      'homepage-dashboard-backend',
    ]);
    expect(granted.code, granted.stderr).toBe(0);
    const got = await latchkey(['credentials', 'get', 'crm-sales-readonly'], { token: backend.token });
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toBe('crm-key-one');

    const history = await latchkey(['credentials', 'history', 'crm-sales-readonly', '-o', 'json']);
    const actions = JSON.parse(history.stdout).map((e: { action: string }) => e.action);
    expect(actions).toEqual([
      'CREDENTIAL_CREATED',
      'CREDENTIAL_REVEAL_REFUSED',
      'CREDENTIAL_GRANTED',
      'CREDENTIAL_REVEALED',
    ]);
    const list = JSON.parse((await latchkey(['credentials', 'list', '-o', 'json'])).stdout);
    expect(list.map((c: { name: string }) => c.name)).toEqual(['crm-sales-readonly']);
    expect(JSON.stringify(list)).not.toContain('crm-key-one');
  });

  it('refuses an empty stdin as a usage error and an unknown credential as not found, writing nothing', async () => {
    const empty = await latchkey(['credentials', 'create', 'empty-one'], { input: '' });
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/stdin was empty/);
    expect(
      await api.sql(`SELECT 1 FROM credentials WHERE tenant_id = $1 AND name = 'empty-one'`, [t.tenantId]),
    ).toEqual([]);
    const unknown = await latchkey(['credentials', 'put', 'no-such-credential'], { input: 'x' });
    expect(unknown.code).toBe(6);
  });

  it('latchkey run restarts its command with the new value when the credential rotates', async () => {
    await latchkey(['credentials', 'create', 'analytics-token'], { input: 'analytics-v1' });
    await latchkey(['credentials', 'grant', 'analytics-token', '--owner', 'homepage-dashboard-backend']);
    const seen = join(dir, 'seen');
    const script = `require('fs').appendFileSync(${JSON.stringify(seen)}, process.env.ANALYTICS_TOKEN + '\\n'); setInterval(() => {}, 1000);`;
    const run = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--env',
        'ANALYTICS_TOKEN=analytics-token',
        '--interval',
        '1s',
        '--',
        process.execPath,
        '-e',
        script,
      ],
      {
        env: { PATH: process.env.PATH, LATCHKEY_URL: api.url, LATCHKEY_TOKEN: backend.token },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const lines = () => {
      try {
        return readFileSync(seen, 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    };
    await expect.poll(lines, { timeout: 10_000 }).toEqual(['analytics-v1']);
    await latchkey(['credentials', 'put', 'analytics-token', '--grace', '1h'], { input: 'analytics-v2' });
    await expect.poll(lines, { timeout: 10_000 }).toEqual(['analytics-v1', 'analytics-v2']);
    const exited = new Promise<number | null>((r) => run.once('exit', (code) => r(code)));
    run.kill('SIGTERM');
    expect(await exited).toBe(143);
  });
});

describe('latchkey run and the command it runs', () => {
  const granted = async (name: string, value: string) => {
    await latchkey(['credentials', 'create', name], { input: value });
    await latchkey(['credentials', 'grant', name, '--owner', 'homepage-dashboard-backend']);
  };

  it('gives the command the variables it asked for and not LATCHKEY_TOKEN; a missing command is exit 127, said plainly', async () => {
    await granted('run-env', 'env-v1');
    const script =
      'console.log(JSON.stringify({ token: process.env.LATCHKEY_TOKEN ?? null, value: process.env.RUN_VALUE }))';
    const r = await latchkey(['run', '--env', 'RUN_VALUE=run-env', '--', process.execPath, '-e', script], {
      token: backend.token,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ token: null, value: 'env-v1' });

    const missing = await latchkey(['run', '--env', 'RUN_VALUE=run-env', '--', 'no-such-command-anywhere'], {
      token: backend.token,
    });
    expect(missing.code).toBe(127);
    expect(missing.stderr).toBe('latchkey: cannot run "no-such-command-anywhere": no such command\n');
  });

  it('stops the command at the next revalidation once its access is withdrawn', async () => {
    await granted('run-withdrawn', 'withdrawn-v1');
    const beats = join(dir, 'beats');
    const script = `setInterval(() => require('fs').appendFileSync(${JSON.stringify(beats)}, '.'), 100);`;
    const run = spawn(
      process.execPath,
      [BIN, 'run', '--env', 'V=run-withdrawn', '--interval', '1s', '--', process.execPath, '-e', script],
      {
        env: { PATH: process.env.PATH, LATCHKEY_URL: api.url, LATCHKEY_TOKEN: backend.token },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    run.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => run.once('exit', (code) => r(code)));
    const size = () => {
      try {
        return readFileSync(beats, 'utf8').length;
      } catch {
        return 0;
      }
    };
    try {
      await expect.poll(size, { timeout: 10_000 }).toBeGreaterThan(0);
      await latchkey(['credentials', 'revoke-access', 'run-withdrawn', '--owner', 'homepage-dashboard-backend']);
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 8_000))]);
      expect(code, stderr).toBe(5);
      expect(stderr).toMatch(
        /credential run-withdrawn: .*: the command was stopped, as it must no longer hold the value/,
      );
      const after = size();
      await new Promise((r) => setTimeout(r, 500));
      expect(size()).toBe(after); // the command is gone too
    } finally {
      run.kill('SIGKILL');
    }
  });
});

describe('latchkey credentials rotator and rotate', () => {
  it('sets a webhook rotator (its signing secret shown once) and rotates, waiting for the end', async () => {
    const rotator = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (JSON.parse(body).step === 'create')
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":"messaging-v2"}');
        else res.writeHead(204).end();
      });
    }).listen(0, '127.0.0.1');
    await new Promise((r) => rotator.once('listening', r));
    try {
      await latchkey(['credentials', 'create', 'messaging-token'], { input: 'messaging-v1' });
      await latchkey(['credentials', 'grant', 'messaging-token', '--owner', 'homepage-dashboard-backend']);
      const both = await latchkey([
        'credentials',
        'rotator',
        'messaging-token',
        '--webhook',
        'http://127.0.0.1:1/x',
        '--redis',
        'other',
      ]);
      expect(both.code).toBe(3);
      const set = await latchkey([
        'credentials',
        'rotator',
        'messaging-token',
        '--webhook',
        `http://127.0.0.1:${(rotator.address() as AddressInfo).port}/rotate`,
        '--every',
        '30d',
        '--grace',
        '1d',
      ]);
      expect(set.code, set.stderr).toBe(0);
      expect(set.stdout).toMatch(/signing secret: whsec_/);
      const rotated = await latchkey(['credentials', 'rotate', 'messaging-token', '--wait']);
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stdout).toMatch(/rotation .* done at finish/);
      expect((await latchkey(['credentials', 'get', 'messaging-token'], { token: backend.token })).stdout).toBe(
        'messaging-v2',
      );
    } finally {
      rotator.close();
    }
  });
});

describe('credentials in latchkey.yaml', () => {
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('manages metadata, readers and the rotator, never values; a credential not created yet is refused at its line', async () => {
    const missing = await latchkey([
      'plan',
      '-f',
      file('missing.yaml', 'version: 1\ncredentials:\n  - name: not-created-yet\n'),
    ]);
    expect(missing.code).toBe(1); // plan and apply exit 1 on every error
    expect(missing.stderr).toMatch(
      /missing\.yaml:3:\d+: credential "not-created-yet" does not exist; values never go in the file/,
    );
    const withValue = await latchkey([
      'plan',
      '-f',
      file('value.yaml', 'version: 1\ncredentials:\n  - name: crm-sales-readonly\n    value: hunter2\n'),
    ]);
    expect(withValue.code).toBe(1);
    expect(withValue.stderr).toMatch(/"value"/);

    await latchkey(['credentials', 'create', 'analytics-readonly'], { input: 'analytics-secret' });
    const desired = file(
      'credentials.yaml',
      [
        'version: 1',
        'credentials:',
        '  - name: analytics-readonly',
        '    service: mixpanel',
        '    readers: [homepage-dashboard-backend]',
        '    rotator:',
        `      webhook: http://127.0.0.1:9/rotate`,
        '      every: P30D',
        '      grace: P1D',
        '',
      ].join('\n'),
    );
    const plan = await latchkey(['plan', '-f', desired]);
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toContain('credential analytics-readonly');
    expect(plan.stdout).not.toContain('analytics-secret');
    const secrets = join(dir, 'rotator-secrets.jsonl');
    const apply = await latchkey(['apply', '--yes', '-f', desired, '--secrets-file', secrets]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(JSON.parse(readFileSync(secrets, 'utf8').trim())).toMatchObject({
      credentialRotator: 'analytics-readonly',
      signingSecret: expect.stringMatching(/^whsec_/),
    });
    const show = JSON.parse((await latchkey(['credentials', 'show', 'analytics-readonly', '-o', 'json'])).stdout);
    expect(show).toMatchObject({
      service: 'mixpanel',
      rotator: { kind: 'WEBHOOK', url: 'http://127.0.0.1:9/rotate' },
      rotateEvery: 'P30D',
      gracePeriod: 'P1D',
    });
    expect(show.readers.map((r: { ownerId: string }) => r.ownerId)).toEqual([backend.id]);
    expect((await latchkey(['plan', '-f', desired])).code).toBe(0);

    // Readers not listed are withdrawn.
    const fewer = file(
      'fewer.yaml',
      'version: 1\ncredentials:\n  - name: analytics-readonly\n    service: mixpanel\n    readers: []\n',
    );
    expect((await latchkey(['apply', '--yes', '-f', fewer])).code).toBe(0);
    expect((await latchkey(['credentials', 'get', 'analytics-readonly'], { token: backend.token })).code).toBe(5);
  });
});

describe('the Node client', () => {
  it('follows a rotation: the change arrives, the copy is dropped, and a call the vendor refuses is retried once with the new value', async () => {
    await latchkey(['credentials', 'create', 'helpdesk-token'], { input: 'helpdesk-v1' });
    await latchkey(['credentials', 'grant', 'helpdesk-token', '--owner', 'homepage-dashboard-backend']);
    const client = new CredentialsClient({ url: api.url, token: backend.token, maxAgeMs: 60_000 });
    expect((await client.get('helpdesk-token')).value).toBe('helpdesk-v1');
    const reveals = async () =>
      Number(
        (
          await api.sql(
            `SELECT count(*) AS n FROM audit_events WHERE tenant_id = $1 AND action = 'CREDENTIAL_REVEALED' AND data->>'name' = 'helpdesk-token'`,
            [t.tenantId],
          )
        )[0].n,
      );
    expect(await reveals()).toBe(1);
    expect((await client.get('helpdesk-token')).value).toBe('helpdesk-v1'); // from memory
    expect(await reveals()).toBe(1);

    const changes: string[] = [];
    const stop = client.follow(['helpdesk-token'], (c) => changes.push(`${c.kind} ${c.name} ${c.version}`));
    try {
      await new Promise((r) => setTimeout(r, 500)); // subscribed
      await latchkey(['credentials', 'put', 'helpdesk-token', '--grace', '1h'], { input: 'helpdesk-v2' });
      await expect.poll(() => changes, { timeout: 10_000 }).toEqual(['VERSION_ADDED helpdesk-token 2']);
      expect((await client.get('helpdesk-token')).value).toBe('helpdesk-v2');
    } finally {
      stop();
    }

    // A vendor that accepts only v3, which the client has not seen yet: one refusal, one retry.
    await latchkey(['credentials', 'put', 'helpdesk-token', '--grace', '1h'], { input: 'helpdesk-v3' });
    const tried: string[] = [];
    const vendor = async (value: string) => {
      tried.push(value);
      if (value !== 'helpdesk-v3') throw Object.assign(new Error('401 from the helpdesk'), { status: 401 });
      return 'ok';
    };
    expect(
      await client.withCredential('helpdesk-token', vendor, (err) => (err as { status?: number }).status === 401),
    ).toBe('ok');
    expect(tried).toEqual(['helpdesk-v2', 'helpdesk-v3']);
  });
});
