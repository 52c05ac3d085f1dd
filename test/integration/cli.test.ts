// The latchkey executable as users run it: a subprocess talking to a real server over HTTP.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { BIN, cliRunner } from '../helpers/cli';
import { issue, newPrincipal, newTenant, type TenantFixture } from '../helpers/fixtures';
import { AuditEventCountDocument, CreateScopeDocument, RevokeTokenDocument } from '../generated/graphql';

const EXAMPLE = resolve(__dirname, '..', '..', 'examples', 'latchkey.yaml');

let api: TestApi;
let tenant: TenantFixture;
let dir: string;

const run = cliRunner(
  () => api.url,
  () => tenant.adminToken,
);
const latchkey = (args: string[], env: Record<string, string | undefined> = {}) => run(args, { env });

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(async () => {
  api = await startTestApi();
  tenant = await newTenant(api);
  dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
});

afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('plan and apply', () => {
  it('plans creations on an empty tenant (exit 2), applies them, then plans nothing (exit 0)', async () => {
    const plan = await latchkey(['plan', '-f', EXAMPLE]);
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toContain('13 to create');
    for (const line of [
      '+   scope crm:sales.summary:read',
      '+   policy dashboard-widgets',
      '+   role dashboard-operator',
      '+   owner homepage-dashboard',
      '+   token homepage-dashboard/send-messages',
    ]) {
      expect(plan.stdout).toContain(line);
    }
    // Planning changed nothing.
    expect((await api.ok(tenant.adminToken, `{ scopes { id } }`)).scopes).toEqual([]);

    // Without a terminal to ask on, apply changes nothing unless told --yes.
    const unasked = await latchkey(['apply', '-f', EXAMPLE]);
    expect(unasked.code).toBe(1);
    expect(unasked.stderr).toContain('pass --yes');
    expect((await api.ok(tenant.adminToken, `{ scopes { id } }`)).scopes).toEqual([]);

    const secrets = join(dir, 'secrets.jsonl');
    const apply = await latchkey(['apply', '--yes', '-f', EXAMPLE, '--secrets-file', secrets]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain('created token homepage-dashboard/sales-overview');
    expect(apply.stdout).not.toMatch(/lk_[0-9A-Za-z]{49}/);
    const issued = readFileSync(secrets, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(issued.map((t) => t.token).sort()).toEqual(
      [
        'homepage-dashboard/send-messages',
        'homepage-dashboard/ticket-count',
        'homepage-dashboard/user-events',
        'homepage-dashboard/sales-overview',
      ].sort(),
    );
    expect(statSync(secrets).mode & 0o777).toBe(0o600);
    // The issued secrets work, with their scopes.
    const verdict = (
      await api.ok(
        tenant.adminToken,
        `query($s: String!) { verifyToken(secret: $s, requiredScopes: ["messaging:messages:write"]) { valid } }`,
        {
          s: issued.find((t) => t.token.endsWith('send-messages')).secret,
        },
      )
    ).verifyToken;
    expect(verdict.valid).toBe(true);
    const { rotationPolicies } = await api.ok(
      tenant.adminToken,
      `{ rotationPolicies { name rotateEvery onReuse rateLimit { requests per } } }`,
    );
    expect(rotationPolicies).toContainEqual({
      name: 'dashboard-writes',
      rotateEvery: 'P7D',
      onReuse: 'REVOKE',
      rateLimit: { requests: 60, per: 'PT1M' },
    });

    const again = await latchkey(['plan', '-f', EXAMPLE]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('no changes');
    const reapply = await latchkey(['apply', '--yes', '-f', EXAMPLE]);
    expect(reapply.code).toBe(0);
    expect(reapply.stdout).toContain('nothing to do');
  });

  it('an edited field yields exactly one update, with its rotation-plan impact', async () => {
    const edited = write(
      'edited.yaml',
      readFileSync(EXAMPLE, 'utf8').replace('rotateEvery: P30D', 'rotateEvery: P14D'),
    );
    const plan = await latchkey(['plan', '-f', edited, '--output', 'json']);
    expect(plan.code).toBe(2);
    const body = JSON.parse(plan.stdout);
    expect(body.changes).toHaveLength(1);
    expect(body.changes[0]).toMatchObject({
      op: 'update',
      kind: 'policy',
      name: 'dashboard-widgets',
      fields: [{ field: 'rotateEvery', before: 'P30D', after: 'P14D' }],
    });
    expect(body.changes[0].impact).toMatchObject({ within: 'P30D', tokens: 3, affectedTokens: 3 });
    // A read-only token (the auditor's, as a pull-request job would hold) plans the same, impact included.
    const auditor = await newPrincipal(api, tenant.adminToken, ['auditor']);
    const readOnly = await latchkey(['plan', '-f', edited, '--output', 'json'], { LATCHKEY_TOKEN: auditor.token });
    expect(readOnly.code, readOnly.stderr).toBe(2);
    expect(JSON.parse(readOnly.stdout).changes[0].impact).toMatchObject({
      within: 'P30D',
      tokens: 3,
      affectedTokens: 3,
    });
    expect((await latchkey(['apply', '--yes', '-f', edited], { LATCHKEY_TOKEN: auditor.token })).code).toBe(1);
    const human = await latchkey(['plan', '-f', edited]);
    expect(human.stdout).toContain('rotateEvery: P30D → P14D');
    expect(human.stdout).toMatch(/rotation plan within P30D: \+\d+ \/ -\d+ scheduled action\(s\) on 3 of 3 token\(s\)/);
    // Apply it, and the server agrees with the edited file.
    expect((await latchkey(['apply', '--yes', '-f', edited])).code).toBe(0);
    expect((await latchkey(['plan', '-f', edited])).code).toBe(0);
    expect((await latchkey(['apply', '--yes', '-f', EXAMPLE])).code).toBe(0);
  });

  it('replaces a token whose scopes changed, marked in plan, keeping the old one working through the overlap', async () => {
    const widened = write(
      'widened.yaml',
      readFileSync(EXAMPLE, 'utf8').replace(
        '    scopes: [crm:sales.summary:read]',
        '    scopes: [crm:sales.summary:read, analytics:user-events:read]',
      ),
    );
    const plan = await latchkey(['plan', '-f', widened]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('-/+ token homepage-dashboard/sales-overview (forces replacement)');
    expect(plan.stdout).toContain('# forces replacement: scopes are fixed at issue');
    const [old] = await api.sql(
      `SELECT t.id FROM tokens t JOIN owners o ON o.id = t.owner_id WHERE o.tenant_id = $1 AND o.name = 'homepage-dashboard' AND t.name = 'sales-overview' AND t.status = 'ACTIVE'`,
      [tenant.tenantId],
    );
    const applied = await latchkey([
      'apply',
      '--yes',
      '-f',
      widened,
      '--overlap',
      '2h',
      '--secrets-file',
      join(dir, 'widened.jsonl'),
    ]);
    expect(applied.code, applied.stderr).toBe(0);
    const [was] = await api.sql(`SELECT status, expires_at, name, labels FROM tokens WHERE id = $1`, [old.id]);
    expect(was.status).toBe('ACTIVE'); // still working: its consumers have two hours to take the new secret
    expect(was.name).toMatch(/^sales-overview \(replaced, until /);
    expect(was.labels['managed-by']).toBeUndefined(); // the file's name now means the new token
    expect((await latchkey(['plan', '-f', widened])).code).toBe(0);
    expect(Math.abs(was.expires_at.getTime() - (Date.now() + 2 * 3_600_000))).toBeLessThan(60_000);
    // Put back as it was: --overlap 0s revokes the replaced token at once; the original is revoked by hand.
    expect(
      (
        await latchkey([
          'apply',
          '--yes',
          '-f',
          EXAMPLE,
          '--overlap',
          '0s',
          '--secrets-file',
          join(dir, 'restored.jsonl'),
        ])
      ).code,
    ).toBe(0);
    expect((await api.sql(`SELECT status FROM tokens WHERE id = $1`, [old.id]))[0].status).toBe('ACTIVE'); // still in its overlap
    await api.ok(tenant.adminToken, RevokeTokenDocument, { id: old.id, reason: 'test clean-up' });
  });

  it('saves a plan and applies exactly it, refusing when the server moved since', async () => {
    const edited = write('saved.yaml', readFileSync(EXAMPLE, 'utf8').replace('rotateEvery: P30D', 'rotateEvery: P21D'));
    const planFile = join(dir, 'reviewed.plan');
    const plan = await latchkey(['plan', '-f', edited, '--out', planFile]);
    expect(plan.code).toBe(2);
    expect(JSON.parse(readFileSync(planFile, 'utf8'))).toMatchObject({
      kind: 'latchkey-plan',
      file: { path: edited, content: readFileSync(edited, 'utf8') },
      changes: [{ op: 'update', kind: 'policy' }],
    });
    // The server moves (a scope is added by someone else): the saved plan is refused, nothing applied.
    await api.ok(tenant.adminToken, CreateScopeDocument, { input: { name: 'moved:since:read' } });
    const stale = await latchkey(['apply', planFile]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('the server changed since');
    expect(
      (await api.ok(tenant.adminToken, `{ rotationPolicies { name rotateEvery } }`)).rotationPolicies.find(
        (p: { name: string }) => p.name === 'dashboard-widgets',
      ).rotateEvery,
    ).toBe('P30D');
    // Planned again, the plan applies (a saved plan asks nothing: it was reviewed).
    expect((await latchkey(['plan', '-f', edited, '--out', planFile])).code).toBe(2);
    const applied = await latchkey(['apply', planFile]);
    expect(applied.code, applied.stderr).toBe(0);
    expect((await latchkey(['plan', '-f', edited])).code).toBe(0);
    // The plan carries the file it was made from: editing the file afterwards changes nothing it applies.
    expect((await latchkey(['plan', '-f', edited, '--out', planFile])).code).toBe(0);
    write('saved.yaml', readFileSync(EXAMPLE, 'utf8'));
    const changedFile = await latchkey(['apply', planFile]);
    expect(changedFile.code, changedFile.stderr).toBe(0);
    expect(changedFile.stdout).toContain('nothing to do');
    expect((await latchkey(['apply', planFile, '-f', EXAMPLE])).code).toBe(1);
    expect((await latchkey(['apply', '--yes', '-f', EXAMPLE])).code).toBe(0);
    await api.ok(tenant.adminToken, `mutation($id: ID!) { deleteScope(id: $id) }`, {
      id: (await api.ok(tenant.adminToken, `{ scopes { id name } }`)).scopes.find(
        (x: { name: string }) => x.name === 'moved:since:read',
      ).id,
    });
  });

  it('declares a token’s networks and rate limit in the file: issued with them, updated in place when they change', async () => {
    const base = readFileSync(EXAMPLE, 'utf8').replace(
      '    labels: { widget: sales-overview }',
      '    labels: { widget: sales-overview }\n    allowedCidrs: [10.0.0.0/8]\n    rateLimit: { requests: 60, per: PT1M }',
    );
    const restricted = write('restricted.yaml', base);
    const plan = JSON.parse((await latchkey(['plan', '-f', restricted, '--output', 'json'])).stdout);
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0]).toMatchObject({ op: 'update', kind: 'token', name: 'homepage-dashboard/sales-overview' });
    expect(plan.changes[0].fields.map((f: { field: string }) => f.field).sort()).toEqual(['allowedCidrs', 'rateLimit']);
    expect((await latchkey(['apply', '--yes', '-f', restricted])).code).toBe(0);
    expect((await latchkey(['plan', '-f', restricted])).code).toBe(0);
    const [row] = await api.sql(
      `SELECT allowed_cidrs::text[] AS cidrs, rate_limit, rate_window_s FROM tokens WHERE name = 'sales-overview' AND status = 'ACTIVE' AND tenant_id = $1`,
      [tenant.tenantId],
    );
    expect(row).toEqual({ cidrs: ['10.0.0.0/8'], rate_limit: 60, rate_window_s: 60 });
    // Back to the example: the restrictions are lifted (by the admin, who set them).
    expect((await latchkey(['apply', '--yes', '-f', EXAMPLE])).code).toBe(0);
    expect((await latchkey(['plan', '-f', EXAMPLE])).code).toBe(0);
  });

  it('prunes only with --prune', async () => {
    await api.ok(tenant.adminToken, CreateScopeDocument, { input: { name: 'legacy:reports:read' } });
    expect((await latchkey(['plan', '-f', EXAMPLE])).code).toBe(0);
    const plan = await latchkey(['plan', '-f', EXAMPLE, '--prune']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('-   scope legacy:reports:read');
    expect((await latchkey(['apply', '--yes', '-f', EXAMPLE, '--prune'])).code).toBe(0);
    expect(
      (await api.ok(tenant.adminToken, `{ scopes { name } }`)).scopes.map((s: { name: string }) => s.name),
    ).not.toContain('legacy:reports:read');
  });

  it('names the file, line and column of a syntax, schema or reference error, and changes nothing', async () => {
    const before = (await api.ok(tenant.adminToken, AuditEventCountDocument)).auditEvents.totalCount;
    const syntax = write('syntax.yaml', 'version: 1\nscopes:\n  - name: crm:a:read\n   description: misindented\n');
    const s = await latchkey(['plan', '-f', syntax]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(new RegExp(`${syntax}:4:\\d+: `));
    const schema = write('schema.yaml', 'version: 1\nowners:\n  - name: robot\n    kind: ROBOT\n');
    const k = await latchkey(['apply', '--yes', '-f', schema]);
    expect(k.code).toBe(1);
    expect(k.stderr).toContain(
      `${schema}:4:11: /owners/0/kind must be equal to one of the allowed values (USER, TEAM, SERVICE)`,
    );
    const ref = write(
      'ref.yaml',
      'version: 1\nowners:\n  - name: svc\n    kind: SERVICE\n    allowedScopes: [nope:nothing:read]\n',
    );
    const r = await latchkey(['plan', '-f', ref]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${ref}:5:20: unknown scope "nope:nothing:read"`);
    const duration = write('duration.yaml', 'version: 1\npolicies:\n  - name: p\n    gracePeriod: P1M\n');
    expect((await latchkey(['plan', '-f', duration])).stderr).toMatch(new RegExp(`${duration}:4:18: `));
    expect((await api.ok(tenant.adminToken, AuditEventCountDocument)).auditEvents.totalCount).toBe(before);
  });
});

describe('tokens', () => {
  it('revoke --owner X --dry-run lists exactly X’s live tokens and changes nothing', async () => {
    const { owners } = await api.ok(tenant.adminToken, `{ owners { edges { node { id name } } } }`);
    const dashboard = owners.edges.find((e: { node: { name: string } }) => e.node.name === 'homepage-dashboard').node
      .id;
    const admin = owners.edges.find((e: { node: { name: string } }) => e.node.name === 'admin').node.id;
    await issue(api, tenant.adminToken, admin, []); // someone else's: never listed
    const gone = await issue(api, tenant.adminToken, dashboard, []);
    await api.ok(tenant.adminToken, RevokeTokenDocument, { id: gone.id, reason: 'test' });
    const live = await api.ok(
      tenant.adminToken,
      `query($o: ID!) { tokens(filter: { ownerId: $o, status: [ACTIVE, SUSPENDED] }) { edges { node { id } } } }`,
      { o: dashboard },
    );
    const before = (await api.ok(tenant.adminToken, AuditEventCountDocument)).auditEvents.totalCount;

    const dry = await latchkey(['tokens', 'revoke', '--owner', 'homepage-dashboard', '--dry-run', '--output', 'json']);
    expect(dry.code, dry.stderr).toBe(0);
    const listed = JSON.parse(dry.stdout)
      .wouldRevoke.map((t: { id: string }) => t.id)
      .sort();
    expect(listed).toEqual(live.tokens.edges.map((e: { node: { id: string } }) => e.node.id).sort());
    expect(listed).toHaveLength(4);
    expect((await api.ok(tenant.adminToken, AuditEventCountDocument)).auditEvents.totalCount).toBe(before);
    const still = await api.ok(
      tenant.adminToken,
      `query($o: ID!) { tokens(filter: { ownerId: $o, status: [ACTIVE] }) { totalCount } }`,
      { o: dashboard },
    );
    expect(still.tokens.totalCount).toBe(4);

    // Without --yes and without a terminal to ask on, nothing is revoked.
    const refused = await latchkey(['tokens', 'revoke', '--owner', 'homepage-dashboard']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('--yes');
  });

  it('lists as JSON for scripts and as a table for people', async () => {
    const json = await latchkey([
      'tokens',
      'list',
      '--owner',
      'homepage-dashboard',
      '--status',
      'ACTIVE',
      '--output',
      'json',
    ]);
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout);
    expect(list).toHaveLength(4);
    expect(Object.keys(list[0]).sort()).toEqual(
      [
        'allowedCidrs',
        'createdAt',
        'description',
        'expiresAt',
        'generation',
        'id',
        'kind',
        'labels',
        'lastUsedAt',
        'name',
        'nextRotationAt',
        'owner',
        'rateLimit',
        'requestedExpiresAt',
        'rotationPolicy',
        'scopes',
        'status',
      ].sort(),
    );
    const table = await latchkey(['tokens', 'list', '--label', 'widget=messages']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+OWNER\s+STATUS/);
    expect(table.stdout).toContain('send-messages');
    expect(table.stdout).not.toContain('\u001b['); // no colour when stdout is not a terminal
    // Newest first, and a note (on stderr) when the limit cut the list.
    const ids = list.map((t: { id: string }) => t.id);
    expect(ids).toEqual([...ids].sort().reverse());
    const cut = await latchkey([
      'tokens',
      'list',
      '--owner',
      'homepage-dashboard',
      '--status',
      'ACTIVE',
      '--limit',
      '2',
    ]);
    expect(cut.stderr).toContain('showing 2 of 4, newest first');
    expect(cut.stdout.split('\n')[1]).toContain(ids[0]);
  });

  it('a developer names its own owner and its tokens by name, with no OWNER_READ', async () => {
    const dev = await newPrincipal(api, tenant.adminToken, ['developer']);
    const [{ name }] = await api.sql(`SELECT name FROM owners WHERE id = $1`, [dev.ownerId]);
    const issued = await latchkey(['tokens', 'issue', '--owner', name, '--name', 'my-notebook', '--output', 'json'], {
      LATCHKEY_TOKEN: dev.token,
    });
    expect(issued.code, issued.stderr).toBe(0);
    const list = await latchkey(['tokens', 'list', '--owner', name, '--output', 'json'], { LATCHKEY_TOKEN: dev.token });
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((x: { name: string }) => x.name)).toContain('my-notebook');
    const show = await latchkey(['tokens', 'show', 'my-notebook', '--output', 'json'], { LATCHKEY_TOKEN: dev.token });
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ name: 'my-notebook', owner: { name } });
    expect((await latchkey(['tokens', 'show', 'no-such-token'], { LATCHKEY_TOKEN: dev.token })).code).toBe(6);
  });

  it('manages webhooks: create (secret once), list, disable and enable, test, deliveries, rotate the secret, delete', async () => {
    const created = await latchkey([
      'webhooks',
      'create',
      'http://127.0.0.1:9/hook',
      '--event',
      'TOKEN_EXPIRING',
      '--event',
      'CREDENTIAL_ROTATION_FAILED',
      '--output',
      'json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const { webhook, signingSecret } = JSON.parse(created.stdout);
    expect(signingSecret).toMatch(/^whsec_/);
    expect((await latchkey(['webhooks', 'create', 'http://127.0.0.1:9/hook'])).code).toBe(3);
    expect(
      JSON.parse((await latchkey(['webhooks', 'list', '-o', 'json'])).stdout).map((w: { id: string }) => w.id),
    ).toContain(webhook.id);
    expect((await latchkey(['webhooks', 'disable', webhook.id])).stdout).toContain('disabled');
    expect((await latchkey(['webhooks', 'enable', webhook.id])).stdout).toContain('active');
    const tested = await latchkey(['webhooks', 'test', webhook.id]);
    expect(tested.code, tested.stderr).toBe(0);
    await expect
      .poll(
        async () =>
          JSON.parse((await latchkey(['webhooks', 'deliveries', webhook.id, '-o', 'json'])).stdout).map(
            (d: { eventAction: string }) => d.eventAction,
          ),
        { timeout: 10_000 },
      )
      .toEqual(['WEBHOOK_TESTED']);
    expect((await latchkey(['webhooks', 'rotate-secret', webhook.id])).stdout).toMatch(/signing secret: whsec_/);
    expect((await latchkey(['webhooks', 'delete', webhook.id])).code).toBe(3); // no terminal to ask on
    expect((await latchkey(['webhooks', 'delete', webhook.id, '--yes'])).code).toBe(0);
    expect(
      JSON.parse((await latchkey(['webhooks', 'list', '-o', 'json'])).stdout).map((w: { id: string }) => w.id),
    ).not.toContain(webhook.id);
  });

  it('issues, rotates and revokes one token', async () => {
    const issued = JSON.parse(
      (await latchkey(['tokens', 'issue', '--owner', 'dashboard-team', '--name', 'cli-made', '--output', 'json']))
        .stdout,
    );
    expect(issued.secret).toMatch(/^lk_[0-9A-Za-z]{49}$/);
    const rotated = JSON.parse(
      (await latchkey(['tokens', 'rotate', issued.token.id, '--grace', 'PT5M', '--output', 'json'])).stdout,
    );
    expect(rotated.token.generation).toBe(2);
    const revoked = await latchkey(['tokens', 'revoke', issued.token.id, '--yes', '--reason', 'done with it']);
    expect(revoked.code).toBe(0);
    const missing = await latchkey(['tokens', 'show', '00000000-0000-7000-8000-000000000000']);
    expect(missing.code).toBe(6);
  });

  it('takes human durations, suspends, resumes and restricts a token', async () => {
    const issued = JSON.parse(
      (await latchkey(['tokens', 'issue', '--owner', 'dashboard-team', '--name', 'cli-human', '--output', 'json']))
        .stdout,
    );
    const rotated = JSON.parse(
      (await latchkey(['tokens', 'rotate', issued.token.id, '--grace', '90m', '--output', 'json'])).stdout,
    );
    const [grace] = await api.sql(
      `SELECT extract(epoch FROM grace_ends_at - created_at)::int AS s FROM token_secrets WHERE token_id = $1 AND state = 'PREVIOUS'`,
      [issued.token.id],
    );
    expect(grace.s).toBeGreaterThanOrEqual(5_399);
    expect(rotated.token.generation).toBe(2);
    const bad = await latchkey(['tokens', 'rotate', issued.token.id, '--grace', '90 minutes']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/is not a duration: write 90m, 1h, 30d or 2w, or ISO 8601/);
    for (const empty of ['P', 'PT'])
      expect((await latchkey(['tokens', 'rotate', issued.token.id, '--grace', empty])).code).toBe(3);
    expect(
      JSON.parse(
        (await latchkey(['tokens', 'suspend', issued.token.id, '--reason', 'checking', '--output', 'json'])).stdout,
      ).status,
    ).toBe('SUSPENDED');
    expect(JSON.parse((await latchkey(['tokens', 'resume', issued.token.id, '--output', 'json'])).stdout).status).toBe(
      'ACTIVE',
    );
    const restricted = JSON.parse(
      (
        await latchkey([
          'tokens',
          'restrict',
          issued.token.id,
          '--cidr',
          '10.0.0.0/8',
          '--rate-limit',
          '100/1m',
          '--output',
          'json',
        ])
      ).stdout,
    );
    expect(restricted).toMatchObject({ allowedCidrs: ['10.0.0.0/8'], rateLimit: { requests: 100, per: 'PT1M' } });
    const opened = JSON.parse(
      (await latchkey(['tokens', 'restrict', issued.token.id, '--any-network', '--no-rate-limit', '--output', 'json']))
        .stdout,
    );
    expect(opened).toMatchObject({ allowedCidrs: null, rateLimit: null });
    expect((await latchkey(['tokens', 'restrict', issued.token.id])).code).toBe(3);
  });

  it('prints its version', async () => {
    const r = await latchkey(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(
      JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'package.json'), 'utf8')).version,
    );
  });
});

describe('connection and errors', () => {
  it('a wrong token gives the authentication exit code and a clear message, never the token', async () => {
    const wrong = 'lk_' + 'A'.repeat(49);
    const r = await latchkey(['tokens', 'list'], { LATCHKEY_TOKEN: wrong });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('not valid');
    expect(r.stderr).toContain('LATCHKEY_TOKEN');
    expect(r.stderr + r.stdout).not.toContain(wrong);
    const none = await latchkey(['tokens', 'list'], { LATCHKEY_TOKEN: undefined });
    expect(none.code).toBe(4);
  });

  it('warns about --token on the command line, and tells usage, not-found and unreachable apart', async () => {
    const flagged = await latchkey(['scopes', 'list', '--token', tenant.adminToken], { LATCHKEY_TOKEN: undefined });
    expect(flagged.code).toBe(0);
    expect(flagged.stderr).toContain('set LATCHKEY_TOKEN instead');
    expect(flagged.stderr + flagged.stdout).not.toContain(tenant.adminToken);
    expect((await latchkey(['tokens', 'frobnicate'])).code).toBe(3);
    expect((await latchkey(['tokens', 'revoke'])).code).toBe(3);
    expect((await latchkey(['policies', 'show', 'no-such-policy'])).code).toBe(6);
    expect((await latchkey(['scopes', 'list'], { LATCHKEY_URL: 'http://127.0.0.1:9' })).code).toBe(8);
    const help = await latchkey(['tokens', 'revoke', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--dry-run');
    expect(help.stdout).toContain('Examples:');
  });

  it('audit verify checks the chain; audit tail streams events after a seq', async () => {
    const verify = await latchkey(['audit', 'verify', '--output', 'json']);
    expect(JSON.parse(verify.stdout)).toMatchObject({ valid: true });
    const child = execFile(
      process.execPath,
      [BIN, 'audit', 'tail', '--after', '0', '--action', 'SCOPE_CREATED', '--output', 'json'],
      {
        env: { PATH: process.env.PATH, LATCHKEY_URL: api.url, LATCHKEY_TOKEN: tenant.adminToken },
      },
    );
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await expect.poll(() => out.split('\n').filter(Boolean).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
    await api.ok(tenant.adminToken, CreateScopeDocument, { input: { name: 'live:tail:read' } });
    await expect.poll(() => out, { timeout: 10_000 }).toContain('live:tail:read');
    child.kill();
    const events = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(events.every((e) => e.action === 'SCOPE_CREATED')).toBe(true);
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
  });

  it('audit tail with no --after starts with the latest events, names beside ids, and follows', async () => {
    const [{ n }] = await api.sql(
      `SELECT max(seq)::int AS n FROM audit_events WHERE tenant_id = (SELECT tenant_id FROM owners WHERE id = $1)`,
      [tenant.adminId],
    );
    const child = execFile(process.execPath, [BIN, 'audit', 'tail', '--last', '3'], {
      env: { PATH: process.env.PATH, LATCHKEY_URL: api.url, LATCHKEY_TOKEN: tenant.adminToken },
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await expect.poll(() => out.split('\n').filter(Boolean).length, { timeout: 10_000 }).toBe(3);
    expect(
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => Number(l.trim().split(/\s+/)[0])),
    ).toEqual([n - 2, n - 1, n]);
    await api.ok(tenant.adminToken, CreateScopeDocument, { input: { name: 'live:named:read' } });
    await expect
      .poll(() => out, { timeout: 10_000 })
      .toMatch(/SCOPE_CREATED\s+scope live:named:read \([0-9a-f-]{36}\)  by admin \([0-9a-f-]{36}\)/);
    child.kill();
  });
});
