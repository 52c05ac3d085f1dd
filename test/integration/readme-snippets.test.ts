// The README's code runs as written: its subscription program and its credentials walkthrough
// are taken from the README verbatim and run (with Node, and with bash and the real latchkey
// binary) against a test server; the only inputs are the environment a reader would have set.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { BIN } from '../helpers/cli';
import { issue, newTenant, type TenantFixture } from '../helpers/fixtures';
import { RevokeTokenDocument } from '../generated/graphql';

const root = resolve(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
// Inside the checkout, so that the snippet's imports resolve from its node_modules.
const dir = join(root, 'test', '.tmp', `readme-${process.pid}`);
let api: TestApi;
let t: TenantFixture;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  mkdirSync(dir, { recursive: true });
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await api.close();
});

/** The first ```lang block after `marker` in the README. */
function snippetAfter(marker: string, lang: string): string {
  const from = readme.indexOf(marker);
  expect(from, marker).toBeGreaterThan(-1);
  const m = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(readme.slice(from));
  return m![1]!;
}

const exited = (child: ChildProcess, ms: number) =>
  Promise.race([
    new Promise<number | null>((r) => child.once('exit', (code) => r(code))),
    new Promise<string>((r) => setTimeout(() => r('still running'), ms)),
  ]);

it('is a user’s guide: at most 450 lines', () => {
  expect(readme.split('\n').length - 1).toBeLessThanOrEqual(450);
});

it('the subscription program prints the expiring tokens, then ends saying why when its token is revoked (4403)', async () => {
  const program = snippetAfter('**Subscriptions** over `graphql-ws`', 'js');
  const name = /^\/\/ (\S+\.mjs)\b/.exec(program)?.[1];
  expect(name, 'the program says what to call its file').toBeDefined();
  writeFileSync(join(dir, name!), program);
  const own = await issue(api, t.adminToken, t.adminId, []);
  const child = spawn(process.execPath, [join(dir, name!)], {
    env: { PATH: process.env.PATH, LATCHKEY_URL: api.url, LATCHKEY_TOKEN: own.secret },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  try {
    await expect.poll(() => stdout, { timeout: 10_000 }).toContain('\n');
    expect(JSON.parse(stdout.split('\n')[0]!)).toMatchObject({ initial: true, tokens: expect.any(Array) });
    await api.ok(t.adminToken, RevokeTokenDocument, { id: own.id, reason: 'readme test' });
    expect(await exited(child, 10_000), stderr).toBe(1);
    expect(stderr).toContain('token revoked or expired: start again with a new one');
  } finally {
    child.kill('SIGKILL');
  }
});

it('the credentials walkthrough runs in bash with the latchkey binary: the backend reads the key, then the new one', async () => {
  const script = snippetAfter("The dashboard's backend gets its CRM key", 'sh');
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(BIN, join(bin, 'latchkey'));
  const env = {
    PATH: [bin, dirname(process.execPath), process.env.PATH].join(':'),
    LATCHKEY_URL: api.url,
    LATCHKEY_TOKEN: t.adminToken,
    CRM_KEY: 'crm-key-from-the-vendor',
    NEW_KEY: 'crm-key-issued-later',
  };
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
    execFile(
      'bash',
      ['--norc', '--noprofile', '-euo', 'pipefail', '-c', script],
      { env, timeout: 60_000 },
      (err, stdout, stderr) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
  expect(r.code, r.stderr).toBe(0);
  const read = JSON.parse(/\{"name":"crm-sales-readonly".*?\}/.exec(r.stdout)![0]);
  expect(read).toMatchObject({ name: 'crm-sales-readonly', version: 1, value: 'crm-key-from-the-vendor' });
  expect(r.stdout).toMatch(/CREDENTIAL_REVEALED/);
  expect(r.stdout).toMatch(/CREDENTIAL_VERSION_ADDED/);
  // The backend's token is a CONTROL token of the granted owner.
  const [token] = await api.sql(
    `SELECT t.kind FROM tokens t JOIN owners o ON o.id = t.owner_id WHERE o.tenant_id = $1 AND o.name = 'homepage-dashboard-backend'`,
    [t.tenantId],
  );
  expect(token.kind).toBe('CONTROL');
  const [current] = await api.sql(
    `SELECT v.version FROM credential_versions v JOIN credentials c ON c.id = v.credential_id WHERE c.tenant_id = $1 AND v.state = 'CURRENT'`,
    [t.tenantId],
  );
  expect(current.version).toBe(2);
});
