// latchkey.yaml beyond the basics, through the real binary: token expiries, webhooks, what
// --prune predicts it could not delete, and apply asking on a terminal.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { cliRunner } from '../helpers/cli';
import { issue, newPrincipal, newTenant, roleId, type TenantFixture } from '../helpers/fixtures';
import {
  AssignRoleDocument,
  AuditEventCountDocument,
  CreateCredentialDocument,
  CreateOwnerDocument,
  CreateRotationPolicyDocument,
  RevokeTokenDocument,
  UnassignRoleDocument,
} from '../generated/graphql';

let api: TestApi;
let dir: string;
/** Each test has a tenant of its own: --prune sees everything in it. */
let tenant: TenantFixture;

const run = cliRunner(
  () => api.url,
  () => tenant.adminToken,
);
const latchkey = (args: string[], token?: string) => run(args, { token });

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, `version: 1\n${text}`);
  return path;
};
const DAY = 86_400_000;
/** A date n days from now, as the file writes it (midnight UTC). */
const day = (n: number) => new Date(Date.now() + n * DAY).toISOString().slice(0, 10);
const midnight = (date: string) => `${date}T00:00:00.000Z`;
const auditCount = async () => (await api.ok(tenant.adminToken, AuditEventCountDocument)).auditEvents.totalCount;

beforeAll(async () => {
  api = await startTestApi();
  dir = mkdtempSync(join(tmpdir(), 'latchkey-policy-file-'));
});

afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('token expiry in the file', () => {
  const tokens = async () => {
    const { tokens: page } = await api.ok(
      tenant.adminToken,
      `{ tokens(filter: { status: [ACTIVE] }) { edges { node { id name expiresAt requestedExpiresAt createdAt } } } }`,
    );
    return new Map<string, { id: string; expiresAt: string; requestedExpiresAt: string; createdAt: string }>(
      page.edges.map((e: { node: { name: string } }) => [e.node.name, e.node]),
    );
  };
  const file = (free: string, capped: string) =>
    write(
      'expiry.yaml',
      `scopes:
  - name: exp:reports:read
policies:
  - name: exp-short
    rotateEvery: P7D
    gracePeriod: PT1H
    expireAfter: P30D
owners:
  - name: exp-svc
    kind: SERVICE
    allowedScopes: [exp:reports:read]
tokens:
  - name: free
    owner: exp-svc
    scopes: [exp:reports:read]
    expiresAt: ${free}
  - name: capped
    owner: exp-svc
    scopes: [exp:reports:read]
    policy: exp-short
    expiresAt: ${capped}
`,
    );

  it('issues with the expiry, moves it earlier in place, replaces the token to move it later, and refuses a past one', async () => {
    tenant = await newTenant(api);
    expect(
      (await latchkey(['apply', '--yes', '-f', file(day(60), day(60)), '--secrets-file', join(dir, 'expiry.jsonl')]))
        .code,
    ).toBe(0);
    const issued = await tokens();
    expect(issued.get('free')).toMatchObject({ expiresAt: midnight(day(60)), requestedExpiresAt: midnight(day(60)) });
    // The policy's lifetime cuts the capped one short; what was asked for is kept beside it.
    const capped = issued.get('capped')!;
    expect(capped.requestedExpiresAt).toBe(midnight(day(60)));
    expect(Date.parse(capped.expiresAt)).toBe(Date.parse(capped.createdAt) + 30 * DAY);
    const same = await latchkey(['plan', '-f', file(day(60), day(60))]);
    expect(same.code, same.stdout + same.stderr).toBe(0);

    // Earlier: in place, the same token.
    const earlier = await latchkey(['plan', '-f', file(day(40), day(60)), '--output', 'json']);
    expect(earlier.code).toBe(2);
    expect(JSON.parse(earlier.stdout).changes).toEqual([
      expect.objectContaining({
        op: 'update',
        kind: 'token',
        name: 'exp-svc/free',
        fields: [expect.objectContaining({ field: 'expiresAt', before: midnight(day(60)), after: midnight(day(40)) })],
      }),
    ]);
    expect((await latchkey(['apply', '--yes', '-f', file(day(40), day(60))])).code).toBe(0);
    expect((await tokens()).get('free')).toMatchObject({ id: issued.get('free')!.id, expiresAt: midnight(day(40)) });

    // Later: the token would work longer than it was issued to, so it is replaced, and plan says why.
    const later = await latchkey(['plan', '-f', file(day(50), day(60))]);
    expect(later.code).toBe(2);
    expect(later.stdout).toContain('-/+ token exp-svc/free (forces replacement)');
    expect(later.stdout).toContain(
      `# forces replacement: an expiry never moves later (the token expires at ${midnight(day(40))})`,
    );
    expect(later.stdout).toContain('the old one keeps working for PT1H (--overlap), then expires');
    expect(
      (
        await latchkey([
          'apply',
          '--yes',
          '-f',
          file(day(50), day(60)),
          '--overlap',
          '0s',
          '--secrets-file',
          join(dir, 'expiry-later.jsonl'),
        ])
      ).code,
    ).toBe(0);
    const replaced = (await tokens()).get('free')!;
    expect(replaced.id).not.toBe(issued.get('free')!.id);
    expect(replaced.expiresAt).toBe(midnight(day(50)));
    expect((await api.sql(`SELECT status FROM tokens WHERE id = $1`, [issued.get('free')!.id]))[0].status).toBe(
      'REVOKED',
    );

    // Later but still past the policy's lifetime: the token stops working when it did, so in place.
    const capLater = await latchkey(['plan', '-f', file(day(50), day(70)), '--output', 'json']);
    expect(JSON.parse(capLater.stdout).changes).toEqual([
      expect.objectContaining({ op: 'update', name: 'exp-svc/capped' }),
    ]);
    expect((await latchkey(['apply', '--yes', '-f', file(day(50), day(70))])).code).toBe(0);
    expect((await tokens()).get('capped')).toMatchObject({
      id: capped.id,
      expiresAt: capped.expiresAt,
      requestedExpiresAt: midnight(day(70)),
    });
    expect((await latchkey(['plan', '-f', file(day(50), day(70))])).code).toBe(0);

    // A date that has passed, or one that does not exist: an error at its line, nothing changed.
    const before = await auditCount();
    const past = file('2020-01-01', day(70));
    const refused = await latchkey(['apply', '--yes', '-f', past]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${past}:17:16: expiresAt 2020-01-01T00:00:00.000Z has passed`);
    const noSuchDay = file('2027-02-30', day(70));
    const notADate = await latchkey(['plan', '-f', noSuchDay]);
    expect(notADate.code).toBe(1);
    expect(notADate.stderr).toContain(`${noSuchDay}:17:16: "2027-02-30" is not a date`);
    expect(await auditCount()).toBe(before);
    expect((await tokens()).get('free')).toEqual(replaced);
  });
});

describe('webhooks in the file', () => {
  const hooks = (events: string, extra = '') =>
    write(
      'hooks.yaml',
      `webhooks:
  - url: http://127.0.0.1:9/expiring
    events: ${events}
    description: Expiry alerts${extra}
`,
    );
  const listed = async () =>
    (await api.ok(tenant.adminToken, `{ webhooks { url events status description } }`)).webhooks.sort(
      (a: { url: string }, b: { url: string }) => a.url.localeCompare(b.url),
    );

  it('creates an endpoint with its secret in the secrets file, edits it in place, and prunes only with a webhooks section', async () => {
    tenant = await newTenant(api);
    await api.ok(
      tenant.adminToken,
      `mutation { createWebhook(url: "http://127.0.0.1:9/other", events: ["TOKEN_REVOKED"]) { webhook { id } } }`,
    );

    const plan = await latchkey(['plan', '-f', hooks('[TOKEN_EXPIRING]')]);
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toContain('+   webhook http://127.0.0.1:9/expiring');
    // Read-only permissions plan it too: the auditor reads webhooks.
    const auditor = await newPrincipal(api, tenant.adminToken, ['auditor']);
    const readOnly = await latchkey(['plan', '-f', hooks('[TOKEN_EXPIRING]')], auditor.token);
    expect(readOnly.code, readOnly.stderr).toBe(2);

    const secrets = join(dir, 'hooks.jsonl');
    const applied = await latchkey(['apply', '--yes', '-f', hooks('[TOKEN_EXPIRING]'), '--secrets-file', secrets]);
    expect(applied.code, applied.stderr).toBe(0);
    const [record] = readFileSync(secrets, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(record).toEqual({
      webhook: 'http://127.0.0.1:9/expiring',
      webhookId: expect.any(String),
      signingSecret: expect.stringMatching(/\S{20,}/),
    });
    expect(applied.stdout).not.toContain(record.signingSecret);
    expect(await listed()).toEqual([
      {
        url: 'http://127.0.0.1:9/expiring',
        events: ['TOKEN_EXPIRING'],
        status: 'ACTIVE',
        description: 'Expiry alerts',
      },
      { url: 'http://127.0.0.1:9/other', events: ['TOKEN_REVOKED'], status: 'ACTIVE', description: null },
    ]);
    expect((await latchkey(['plan', '-f', hooks('[TOKEN_EXPIRING]')])).code).toBe(0);

    // Edited: one update, in place.
    const edited = hooks('[TOKEN_EXPIRING, TOKEN_EXPIRED]', '\n    enabled: false');
    const update = JSON.parse((await latchkey(['plan', '-f', edited, '--output', 'json'])).stdout);
    expect(update.changes).toEqual([
      expect.objectContaining({ op: 'update', kind: 'webhook', name: 'http://127.0.0.1:9/expiring' }),
    ]);
    expect(update.changes[0].fields.map((f: { field: string }) => f.field).sort()).toEqual(['enabled', 'events']);
    expect((await latchkey(['apply', '--yes', '-f', edited])).code).toBe(0);
    expect((await listed())[0]).toMatchObject({ events: ['TOKEN_EXPIRED', 'TOKEN_EXPIRING'], status: 'DISABLED' });
    expect((await latchkey(['plan', '-f', edited])).code).toBe(0);

    // A file without a webhooks section leaves every endpoint alone, even with --prune.
    const noSection = await latchkey(['plan', '--prune', '-f', write('none.yaml', 'scopes: []\n')]);
    expect(noSection.code, noSection.stdout).toBe(0);
    // With one, --prune deletes what it does not list.
    const prune = await latchkey(['plan', '--prune', '-f', edited]);
    expect(prune.code).toBe(2);
    expect(prune.stdout).toContain('-   webhook http://127.0.0.1:9/other');
    expect((await latchkey(['apply', '--yes', '--prune', '-f', edited])).code).toBe(0);
    expect((await listed()).map((w: { url: string }) => w.url)).toEqual(['http://127.0.0.1:9/expiring']);
  });

  it('refuses an event name that does not exist, at its line, changing nothing', async () => {
    tenant = await newTenant(api);
    const before = await auditCount();
    const typo = hooks('[TOKEN_EXPIRNG]');
    const r = await latchkey(['apply', '--yes', '-f', typo]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${typo}:4:14: /webhooks/0/events/0 must be equal to one of the allowed values`);
    expect(await listed()).toEqual([]);
    expect(await auditCount()).toBe(before);
  });
});

describe('--prune predicts what the server would refuse', () => {
  const declared = `scopes:
  - name: pr:a:read
  - name: pr:b:read
policies:
  - name: pr-policy
    rotateEvery: P7D
    gracePeriod: PT1H
roles:
  - name: pr-role
    permissions: [TOKEN_READ]
owners:
  - name: pr-svc
    kind: SERVICE
    allowedScopes: [pr:a:read, pr:b:read]
    roles: [pr-role]
tokens:
  - name: widget
    owner: pr-svc
    scopes: [pr:a:read, pr:b:read]
    policy: pr-policy
`;
  // The same without pr:b:read, the policy and the role: the token loses a scope, so it is replaced.
  const narrowed = `scopes:
  - name: pr:a:read
owners:
  - name: pr-svc
    kind: SERVICE
    allowedScopes: [pr:a:read]
tokens:
  - name: widget
    owner: pr-svc
    scopes: [pr:a:read]
`;
  const state = async () => {
    const d = await api.ok(
      tenant.adminToken,
      `{ scopes { name usage { ownerCeilings liveTokens } } rotationPolicies { name usage { liveTokens credentials } } roles { name builtIn } }`,
    );
    return {
      scopes: d.scopes,
      policies: d.rotationPolicies,
      roles: d.roles.filter((r: { builtIn: boolean }) => !r.builtIn).map((r: { name: string }) => r.name),
    };
  };

  it('lists every blocker, changes nothing, and applies once they are gone', async () => {
    tenant = await newTenant(api);
    expect(
      (
        await latchkey([
          'apply',
          '--yes',
          '-f',
          write('declared.yaml', declared),
          '--secrets-file',
          join(dir, 'prune.jsonl'),
        ])
      ).code,
    ).toBe(0);
    // Someone the file does not know: an owner with the scope in its ceiling, the role, and a token under the policy.
    const { createOwner: outsider } = await api.ok(tenant.adminToken, CreateOwnerDocument, {
      input: { kind: 'USER', name: 'outsider', allowedScopes: ['pr:b:read'] },
    });
    const role = await roleId(api, tenant.adminToken, 'pr-role');
    await api.ok(tenant.adminToken, AssignRoleDocument, { ownerId: outsider.id, roleId: role });
    const policyId = (await api.ok(tenant.adminToken, `{ rotationPolicies { id } }`)).rotationPolicies[0].id;
    const outsiders = await issue(api, tenant.adminToken, outsider.id, ['pr:b:read'], { rotationPolicyId: policyId });

    const before = await state();
    expect(before.scopes).toEqual([
      { name: 'pr:a:read', usage: { ownerCeilings: 1, liveTokens: 1 } },
      { name: 'pr:b:read', usage: { ownerCeilings: 2, liveTokens: 2 } },
    ]);
    expect(before.policies).toEqual([{ name: 'pr-policy', usage: { liveTokens: 2, credentials: 0 } }]);
    const audited = await auditCount();

    const file = write('narrowed.yaml', narrowed);
    const refused = await latchkey(['plan', '--prune', '-f', file]);
    expect(refused.code).toBe(1);
    const replacedNote = 'pr-svc/widget (replaced, live through --overlap; --overlap 0s revokes it)';
    for (const line of [
      `${file}: --prune would delete what is still in use`,
      'role "pr-role": held by owner "outsider" (not in the file)',
      `rotation policy "pr-policy": still governs ${replacedNote}, 1 live token(s) of owners the file does not declare`,
      `scope "pr:b:read": still in the ceiling of owner "outsider" (not in the file); and carried by ${replacedNote}, 1 live token(s) of owners the file does not declare`,
    ]) {
      expect(refused.stderr).toContain(line);
    }
    // apply refuses the same, before changing anything.
    expect((await latchkey(['apply', '--yes', '--prune', '-f', file])).code).toBe(1);
    expect(await state()).toEqual(before);
    expect(await auditCount()).toBe(audited);

    // The outsider lets go; the replaced token still holds both through the default overlap.
    await api.ok(tenant.adminToken, RevokeTokenDocument, { id: outsiders.id, reason: 'test' });
    await api.ok(tenant.adminToken, UnassignRoleDocument, { ownerId: outsider.id, roleId: role });
    await api.ok(tenant.adminToken, `mutation($o: ID!) { updateOwner(id: $o, input: { allowedScopes: [] }) { id } }`, {
      o: outsider.id,
    });
    const overlap = await latchkey(['plan', '--prune', '-f', file]);
    expect(overlap.code).toBe(1);
    expect(overlap.stderr).toContain(`rotation policy "pr-policy": still governs ${replacedNote}\n`);
    expect(overlap.stderr).not.toContain('outsider');

    // Without an overlap nothing holds them: the plan lists the deletions and apply makes them.
    const plan = await latchkey(['plan', '--prune', '--overlap', '0s', '-f', file]);
    expect(plan.code, plan.stderr).toBe(2);
    for (const line of [
      '-/+ token pr-svc/widget (forces replacement)',
      'the old one is revoked at once (--overlap 0s)',
      '-   role pr-role',
      '-   policy pr-policy',
      '-   scope pr:b:read',
    ])
      expect(plan.stdout).toContain(line);
    const applied = await latchkey([
      'apply',
      '--yes',
      '--prune',
      '--overlap',
      '0s',
      '-f',
      file,
      '--secrets-file',
      join(dir, 'prune-applied.jsonl'),
    ]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(await state()).toEqual({
      scopes: [{ name: 'pr:a:read', usage: { ownerCeilings: 1, liveTokens: 1 } }],
      policies: [],
      roles: [],
    });
    expect((await latchkey(['plan', '--prune', '-f', file])).code).toBe(0);
  });

  it('a credential timed by a policy holds it: the server refuses the delete and the plan says so first', async () => {
    tenant = await newTenant(api);
    const { createRotationPolicy: policy } = await api.ok(tenant.adminToken, CreateRotationPolicyDocument, {
      input: { name: 'vendor-warnings', rotateEvery: 'P30D', gracePeriod: 'PT1H', notifyBefore: ['P7D'] },
    });
    await api.ok(tenant.adminToken, CreateCredentialDocument, {
      input: { name: 'crm-key', service: 'crm', value: 'not-a-real-key' },
    });
    await api.ok(
      tenant.adminToken,
      `mutation($p: String) { updateCredential(name: "crm-key", input: { rotationPolicyId: $p }) { id } }`,
      { p: policy.id },
    );
    expect((await state()).policies).toEqual([{ name: 'vendor-warnings', usage: { liveTokens: 0, credentials: 1 } }]);

    const file = write('no-policies.yaml', 'policies: []\n');
    const plan = await latchkey(['plan', '--prune', '-f', file]);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain('rotation policy "vendor-warnings": still times the warnings of 1 credential(s)');

    const audited = await auditCount();
    const refused = await api.gql(tenant.adminToken, `mutation($id: ID!) { deleteRotationPolicy(id: $id) }`, {
      id: policy.id,
    });
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT' } });
    expect(refused.errors?.[0].message).toContain('times the warnings of 1 credential(s)');
    expect((await state()).policies).toHaveLength(1);
    expect(await auditCount()).toBe(audited);
  });
});

describe('errors in the file: all of them at once, in words', () => {
  it('lists every schema error at its line, describing patterns instead of quoting them, and changes nothing', async () => {
    tenant = await newTenant(api);
    const before = await auditCount();
    const file = write(
      'many.yaml',
      'scopes:\n  - name: CRM Sales\npolicies:\n  - name: p\n    gracePeriod: 1 hour\nowners:\n  - name: robot\n    kind: ROBOT\n    colour: blue\n',
    );
    const r = await latchkey(['apply', '--yes', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `latchkey: ${file}:3:11: /scopes/0/name "CRM Sales" is not a scope name, <service>:<resource>:<read|write> in lower case, such as crm:sales.summary:read`,
      `${file}:6:18: /policies/0/gracePeriod "1 hour" is not an ISO 8601 duration in weeks, days, hours, minutes or seconds, such as PT1H, P30D or P1DT6H`,
      `${file}:8:5: /owners/0 must NOT have additional properties ("colour")`,
      `${file}:9:11: /owners/0/kind must be equal to one of the allowed values (USER, TEAM, SERVICE)`,
    ]);
    expect(r.stderr).not.toMatch(/\^|\(\?|\\d/);
    expect(await auditCount()).toBe(before);
  });

  it('lists every error the schema cannot see, in the order of the file', async () => {
    const file = write(
      'rules.yaml',
      'owners:\n  - name: svc\n    kind: SERVICE\n    allowedScopes: [a:b:read]\n  - name: svc\n    kind: SERVICE\ntokens:\n  - name: t\n    owner: svc\n    scopes: [a:c:read]\n    allowedCidrs: [10.0.0.0/33]\n    expiresAt: 2027-02-30\n  - name: u\n    owner: nobody\n',
    );
    const r = await latchkey(['plan', '-f', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.map((l) => /:(\d+):\d+: /.exec(l)?.[1])).toEqual(['6', '11', '12', '13', '15']);
    for (const what of [
      'owners has "svc" twice',
      'scope "a:c:read" is outside the ceiling of owner "svc"',
      '"10.0.0.0/33" is not an IP network',
      '"2027-02-30" is not a date',
      'owner "nobody" is not declared under owners',
    ]) {
      expect(r.stderr).toContain(what);
    }
  });
});

describe('apply on a terminal', () => {
  /** apply on a terminal, answering its question with `answer`. */
  const onTerminal = async (file: string, answer: string) => {
    const r = await run(['apply', '-f', file], { terminal: true, input: `${answer}\n` });
    return { code: r.code, out: r.stdout };
  };
  const scopes = async () =>
    (await api.ok(tenant.adminToken, `{ scopes { name } }`)).scopes.map((s: { name: string }) => s.name);

  it('shows the plan and asks; anything but yes changes nothing', async () => {
    tenant = await newTenant(api);
    const file = write('asked.yaml', 'scopes:\n  - name: tty:asked:read\n');
    const audited = await auditCount();
    const no = await onTerminal(file, 'n');
    expect(no.code).toBe(0);
    expect(no.out).toContain('+   scope tty:asked:read');
    expect(no.out).toMatch(/Apply these 1 change\(s\) to http:\/\/127\.0\.0\.1:\d+/);
    expect(no.out).toContain('nothing changed');
    expect(await scopes()).toEqual([]);
    expect(await auditCount()).toBe(audited);

    const yes = await onTerminal(file, 'y');
    expect(yes.code, yes.out).toBe(0);
    expect(yes.out).toContain('created scope tty:asked:read');
    expect(await scopes()).toEqual(['tty:asked:read']);
  });
});
