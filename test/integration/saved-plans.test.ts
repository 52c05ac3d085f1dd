// What the command line reads back and writes on the user's machine, through the real binary:
// a saved plan applies exactly what was reviewed (never the editable fields it carries), plans and
// secrets files end up readable by their owner only, and an oversized policy file is refused at once.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { cliRunner } from '../helpers/cli';
import { newTenant, type TenantFixture } from '../helpers/fixtures';
import { AuditEventCountDocument } from '../generated/graphql';

let api: TestApi;
let t: TenantFixture;
let dir: string;
const latchkey = cliRunner(
  () => api.url,
  () => t.adminToken,
);

const path = (name: string) => join(dir, name);
const write = (name: string, text: string) => {
  writeFileSync(path(name), `version: 1\n${text}`);
  return path(name);
};
const auditCount = async () => (await api.ok(t.adminToken, AuditEventCountDocument)).auditEvents.totalCount;
const mode = (p: string) => statSync(p).mode & 0o777;

/** The file the tests edit; `extras` adds a managed token, a role and a policy beside the rest. */
const doc = (o: { description?: string; extras?: boolean; keepScopes?: string; more?: boolean } = {}) =>
  [
    'scopes:',
    '  - name: sp:reports:read',
    `    description: ${o.description ?? 'Reports'}`,
    '  - name: sp:other:read',
    'policies:',
    '  - name: sp-keep',
    '    gracePeriod: PT1H',
    ...(o.extras
      ? [
          '  - name: sp-extra',
          '    gracePeriod: PT1H',
          'roles:',
          '  - name: sp-extra-role',
          '    permissions: [TOKEN_READ]',
        ]
      : []),
    'owners:',
    '  - name: sp-svc',
    '    kind: SERVICE',
    '    allowedScopes: [sp:reports:read, sp:other:read]',
    'tokens:',
    '  - name: keep',
    '    owner: sp-svc',
    `    scopes: ${o.keepScopes ?? '[sp:reports:read]'}`,
    ...(o.extras
      ? ['  - name: extra', '    owner: sp-svc', '    scopes: [sp:reports:read]', '    policy: sp-extra']
      : []),
    ...(o.more ? ['  - name: more', '    owner: sp-svc', '    scopes: [sp:reports:read]'] : []),
    '',
  ].join('\n');

/** Everything --prune would remove, as the server holds it. */
const extras = async () => {
  const d = await api.ok(
    t.adminToken,
    `{ tokens(filter: { search: "extra", status: [ACTIVE] }) { totalCount } rotationPolicies { name } roles { name } }`,
  );
  return {
    tokens: d.tokens.totalCount,
    policies: d.rotationPolicies.map((p: { name: string }) => p.name).sort(),
    roles: d.roles.map((r: { name: string }) => r.name).filter((n: string) => n.startsWith('sp-')),
  };
};

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  dir = mkdtempSync(join(tmpdir(), 'latchkey-saved-plans-'));
  const applied = await latchkey([
    'apply',
    '--yes',
    '-f',
    write('extra.yaml', doc({ extras: true })),
    '--secrets-file',
    path('setup.jsonl'),
  ]);
  expect(applied.code, applied.stderr).toBe(0);
});

afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a saved plan applies exactly what was reviewed', () => {
  it('refuses a plan reviewed as one update whose prune was flipped afterwards, changing nothing', async () => {
    // Reviewed without --prune: the extras on the server are kept, and the one change is a description.
    const reviewed = write('reviewed.yaml', doc({ description: 'Reports, monthly' }));
    const planFile = path('reviewed.plan');
    const plan = await latchkey(['plan', '-f', reviewed, '--out', planFile, '--output', 'json']);
    expect(plan.code, plan.stderr).toBe(2);
    expect(JSON.parse(plan.stdout).changes).toEqual([
      expect.objectContaining({ op: 'update', kind: 'scope', name: 'sp:reports:read' }),
    ]);

    // What the review did not see: --prune on, and a file that no longer declares the extras.
    const saved = JSON.parse(readFileSync(planFile, 'utf8'));
    const before = { extras: await extras(), audit: await auditCount() };
    expect(before.extras).toEqual({ tokens: 1, policies: ['sp-extra', 'sp-keep'], roles: ['sp-extra-role'] });
    for (const [how, tampered] of [
      ['prune flipped', { ...saved, prune: true }],
      [
        'another file carried',
        {
          ...saved,
          file: {
            ...saved.file,
            content: `version: 1\n${doc({ description: 'Reports, monthly', keepScopes: '[sp:other:read]' })}`,
          },
        },
      ],
      ['the changes emptied', { ...saved, changes: [] }],
    ] as const) {
      writeFileSync(planFile, JSON.stringify(tampered));
      const r = await latchkey(['apply', planFile, '--secrets-file', path('never.jsonl')]);
      expect(r.code, how).toBe(1);
      expect(r.stderr, how).toMatch(
        /does not hold the changes its own inputs give .*: it was edited after plan wrote it/,
      );
      expect(await extras(), how).toEqual(before.extras);
      expect(await auditCount(), how).toBe(before.audit);
    }
  });

  it('refuses an overlap edited in a plan that replaces a token', async () => {
    // A token's scopes are fixed at issue: widening them replaces it, the old one working through --overlap.
    const widened = write('widened.yaml', doc({ extras: true, keepScopes: '[sp:reports:read, sp:other:read]' }));
    const planFile = path('replace.plan');
    expect((await latchkey(['plan', '-f', widened, '--out', planFile])).code).toBe(2);
    const saved = JSON.parse(readFileSync(planFile, 'utf8'));
    expect(saved.changes.find((c: { op: string }) => c.op === 'replace')).toMatchObject({
      name: 'sp-svc/keep',
      overlap: 'PT1H',
    });
    writeFileSync(planFile, JSON.stringify({ ...saved, overlap: 'PT0S' }));
    const before = await auditCount();
    const r = await latchkey(['apply', planFile, '--secrets-file', path('never.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('replace token "sp-svc/keep" with other fields');
    expect(await auditCount()).toBe(before);
  });

  it('carries the file, prints the same digest when saved and when applied, and refuses another digest', async () => {
    const edited = write('carried.yaml', doc({ extras: true, description: 'Reports, weekly' }));
    const planFile = path('carried.plan');
    const plan = await latchkey(['plan', '-f', edited, '--out', planFile]);
    const digest = /\((sha256:[0-9a-f]{64})\)/.exec(plan.stderr)?.[1];
    expect(digest, plan.stderr).toBeDefined();
    rmSync(edited); // what was reviewed travels in the plan

    const before = await auditCount();
    const wrong = await latchkey(['apply', planFile, '--digest', `sha256:${'0'.repeat(64)}`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`is ${digest}, not the sha256:${'0'.repeat(64)} that was reviewed`);
    expect(await auditCount()).toBe(before);
    for (const flag of [['--prune'], ['--overlap', '0s']])
      expect((await latchkey(['apply', planFile, ...flag])).code).toBe(1);

    const applied = await latchkey(['apply', planFile, '--digest', digest!]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toContain(`applying ${planFile} (${digest})`);
    expect(applied.stdout).toContain('updated scope sp:reports:read');
    const { scopes } = await api.ok(t.adminToken, `{ scopes { name description } }`);
    expect(scopes).toContainEqual({ name: 'sp:reports:read', description: 'Reports, weekly' });
  });
});

describe('files the command line writes are its owner’s alone', () => {
  it('plan --out replaces an existing 0644 file with a 0600 one', async () => {
    const planFile = path('shared.plan');
    writeFileSync(planFile, 'old');
    chmodSync(planFile, 0o644);
    expect(
      (await latchkey(['plan', '-f', write('same.yaml', doc({ extras: true })), '--out', planFile])).code,
    ).not.toBe(1);
    expect(mode(planFile)).toBe(0o600);
    expect(JSON.parse(readFileSync(planFile, 'utf8')).kind).toBe('latchkey-plan');
  });

  it('--secrets-file makes an existing 0644 file 0600 before writing a secret, and refuses a link', async () => {
    const secrets = path('shared-secrets.jsonl');
    writeFileSync(secrets, '');
    chmodSync(secrets, 0o644);
    const more = write('more.yaml', doc({ extras: true, description: 'Reports, weekly', more: true }));
    const linked = path('linked.jsonl');
    symlinkSync(secrets, linked);
    const before = await auditCount();
    const refused = await latchkey(['apply', '--yes', '-f', more, '--secrets-file', linked]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('symbolic link');
    expect(await auditCount()).toBe(before);

    const applied = await latchkey(['apply', '--yes', '-f', more, '--secrets-file', secrets]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toContain(`${secrets} was mode 0644; it is 0600 now`);
    expect(mode(secrets)).toBe(0o600);
    expect(JSON.parse(readFileSync(secrets, 'utf8').trim())).toMatchObject({
      token: 'sp-svc/more',
      secret: expect.stringMatching(/^lk_/),
    });
  });
});

describe('a policy file is read up to a limit', () => {
  it('refuses a file over 5 MB at once, without parsing it, changing nothing', async () => {
    const big = path('big.yaml');
    writeFileSync(
      big,
      `version: 1\nscopes:\n${'  - name: big:x:read\n    description: padding padding padding padding padding padding\n'.repeat(80_000)}`,
    );
    expect(statSync(big).size).toBeGreaterThan(5 * 1024 * 1024);
    const before = await auditCount();
    const started = Date.now();
    const r = await latchkey(['plan', '-f', big]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${big}: larger than 5 MB, the limit for a policy file`);
    expect(await auditCount()).toBe(before);
  });
});
