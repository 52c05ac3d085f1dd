// Text that would command a terminal: the API refuses it in names, descriptions, labels and
// reasons (naming the argument, writing nothing), and the command line shows it escaped wherever
// it still arrives from (rows written before the API refused it, server messages quoting it).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { BIN, cliRunner } from '../helpers/cli';
import { issue, newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';
import { asSuperuserWithoutGuards } from '../helpers/tamper';
import {
  AuditEventCountDocument,
  CreateCredentialDocument,
  CreateOwnerDocument,
  CreateScopeDocument,
  GrantCredentialDocument,
} from '../generated/graphql';

/** The name from the report: moves up a line, erases it, and prints a green "all good". */
const HOSTILE = 'innocent\u001b[1A\u001b[2K\r\u001b[32mall good\u001b[0m';
/** What a terminal must receive instead: every control written out. */
const SHOWN = 'innocent\\u001b[1A\\u001b[2K\\u000d\\u001b[32mall good\\u001b[0m';
/** Nothing a terminal obeys: C0 but the newline, DEL, C1, separators and bidi controls. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

let api: TestApi;
let t: TenantFixture;
let dir: string;
let ownerId: string;
let tokenId: string;
const latchkey = cliRunner(
  () => api.url,
  () => t.adminToken,
);
const auditCount = async () => (await api.ok(t.adminToken, AuditEventCountDocument)).auditEvents.totalCount;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  dir = mkdtempSync(join(tmpdir(), 'latchkey-terminal-'));
  ownerId = (await api.ok(t.adminToken, CreateOwnerDocument, { input: { kind: 'SERVICE', name: 'term-svc' } }))
    .createOwner.id;
  tokenId = (await issue(api, t.adminToken, ownerId, [])).id;
});

afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the API refuses terminal controls', () => {
  const CASES: Array<[string, string, () => Record<string, unknown>, string, string]> = [
    [
      'a token name',
      `mutation($o: ID!, $n: String!) { issueToken(input: { ownerId: $o, name: $n, scopes: [] }) { secret } }`,
      () => ({ o: ownerId, n: HOSTILE }),
      'input.name',
      'U+001B',
    ],
    [
      'a description (right-to-left override)',
      `mutation($d: String) { createScope(input: { name: "term:x:read", description: $d }) { id } }`,
      () => ({ d: 'harmless\u202eexe.txt' }),
      'input.description',
      'U+202E',
    ],
    [
      'a label value (C1 control)',
      `mutation($id: ID!, $l: JSONObject) { updateToken(id: $id, input: { labels: $l }) { id } }`,
      () => ({ id: tokenId, l: { team: 'a\u009b2J' } }),
      'input.labels.team',
      'U+009B',
    ],
    [
      'a label key (newline)',
      `mutation($id: ID!, $l: JSONObject) { updateToken(id: $id, input: { labels: $l }) { id } }`,
      () => ({ id: tokenId, l: { ['team\nfake']: 'x' } }),
      'input.labels (a key)',
      'U+000A',
    ],
    [
      'a reason (line separator)',
      `mutation($id: ID!, $r: String!) { revokeToken(id: $id, reason: $r) { id } }`,
      () => ({ id: tokenId, r: 'rotated\u2028all good' }),
      'reason',
      'U+2028',
    ],
    [
      'an owner name (isolate)',
      `mutation($n: String!) { createOwner(input: { kind: USER, name: $n }) { id } }`,
      () => ({ n: 'bob\u2066' }),
      'input.name',
      'U+2066',
    ],
  ];
  for (const [what, query, vars, argument, character] of CASES) {
    it(`in ${what}: BAD_USER_INPUT naming ${argument}, nothing written`, async () => {
      const before = await auditCount();
      const tokens = await api.sql(`SELECT id, name, labels, status FROM tokens WHERE tenant_id = $1 ORDER BY id`, [
        t.tenantId,
      ]);
      const r = await api.gql(t.adminToken, query, vars());
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
      expect(r.errors?.[0]?.message).toContain(`${argument} contains the control character ${character}`);
      expect(await auditCount()).toBe(before);
      expect(
        await api.sql(`SELECT id, name, labels, status FROM tokens WHERE tenant_id = $1 ORDER BY id`, [t.tenantId]),
      ).toEqual(tokens);
    });
  }

  it('still takes a credential value with newlines: it is for a program, never shown', async () => {
    const pem = '-----BEGIN KEY-----\nabc\n-----END KEY-----';
    await api.ok(t.adminToken, CreateCredentialDocument, { input: { name: 'term-pem', value: pem } });
  });
});

describe('the command line shows them escaped, wherever they come from', () => {
  beforeAll(async () => {
    // Written before the API refused them: straight into the rows.
    await api.sql(`UPDATE tokens SET name = $1 WHERE id = $2`, [HOSTILE, tokenId]);
    await api.ok(t.adminToken, CreateScopeDocument, { input: { name: 'term:shown:read', description: 'plain' } });
    await api.sql(`UPDATE scopes SET description = $1 WHERE tenant_id = $2 AND name = 'term:shown:read'`, [
      HOSTILE,
      t.tenantId,
    ]);
  });

  const clean = (r: { stdout: string; stderr: string }) => {
    expect(r.stdout + r.stderr).not.toMatch(RAW_CONTROL);
  };

  it('tokens list and show: the table shows the name written out; JSON gives it back exactly', async () => {
    const table = await latchkey(['tokens', 'list', '--owner', 'term-svc']);
    expect(table.code, table.stderr).toBe(0);
    clean(table);
    expect(table.stdout).toContain(SHOWN);
    const show = await latchkey(['tokens', 'show', tokenId]);
    clean(show);
    expect(show.stdout).toContain(SHOWN);
    const json = await latchkey(['tokens', 'list', '--owner', 'term-svc', '--output', 'json']);
    clean(json);
    expect(JSON.parse(json.stdout)[0].name).toBe(HOSTILE);
  });

  it('plan shows a value from the server escaped', async () => {
    const file = join(dir, 'scope.yaml');
    writeFileSync(file, 'version: 1\nscopes:\n  - name: term:shown:read\n    description: plain\n');
    const plan = await latchkey(['plan', '-f', file]);
    expect(plan.code, plan.stderr).toBe(2);
    clean(plan);
    expect(plan.stdout).toContain(`description: ${SHOWN} → plain`);
  });

  it('audit tail shows an actor’s name escaped', async () => {
    const actor = await newPrincipal(api, t.adminToken, ['admin']);
    await api.ok(actor.token, CreateScopeDocument, { input: { name: 'term:tail:read' } });
    await api.sql(`UPDATE owners SET name = $1 WHERE id = $2`, [`eve${HOSTILE}`, actor.ownerId]);
    // tail follows until it is stopped: read what it printed first, then stop it.
    const child = execFile(process.execPath, [BIN, 'audit', 'tail', '--last', '1'], {
      env: { PATH: process.env.PATH, LATCHKEY_URL: api.url, LATCHKEY_TOKEN: t.adminToken },
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      await expect.poll(() => out, { timeout: 10_000 }).toContain('SCOPE_CREATED');
    } finally {
      child.kill();
    }
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out).toContain(`by eve${SHOWN}`);
  });

  it('credentials history shows what an event holds escaped', async () => {
    await asSuperuserWithoutGuards(api, (q) =>
      q(
        `UPDATE audit_events SET data = data || jsonb_build_object('clientIp', $1::text) WHERE tenant_id = $2 AND action = 'CREDENTIAL_CREATED'`,
        [HOSTILE, t.tenantId],
      ),
    );
    const history = await latchkey(['credentials', 'history', 'term-pem']);
    expect(history.code, history.stderr).toBe(0);
    clean(history);
    expect(history.stdout).toContain(SHOWN);
  });

  it('credentials get prints a value as it is to a script, and escaped to a terminal', async () => {
    await api.ok(t.adminToken, CreateCredentialDocument, { input: { name: 'term-value', value: HOSTILE } });
    await api.ok(t.adminToken, GrantCredentialDocument, { name: 'term-value', ownerId: t.adminId });
    const piped = await latchkey(['credentials', 'get', 'term-value']);
    expect(piped.stdout).toBe(HOSTILE);
    const shown = await latchkey(['credentials', 'get', 'term-value'], { terminal: true });
    expect(shown.code, shown.stdout).toBe(0);
    expect(shown.stdout).not.toMatch(/\u001b/);
    expect(shown.stdout).toContain(SHOWN);
  });

  it('an error quoting what was typed or stored is escaped', async () => {
    const missing = await latchkey(['scopes', 'show', 'x\u202e\u009b2J']);
    expect(missing.code).toBe(6);
    clean(missing);
    expect(missing.stderr).toContain('x\\u202e\\u009b2J');
  });
});
