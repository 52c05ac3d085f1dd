// The command line's committed files: the policy-file JSON Schema in step with the API, and the
// documented example (docs/policy-as-code.md) the one the tests apply. (Its generated documents:
// codegen.test.ts.)
import { AUDIT_ACTIONS } from '../../src/audit/actions';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildSchema, type GraphQLEnumType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadPolicyFile, parsePolicyFile } from '../../src/cli/policy-file';
import { PATTERN_WORDS } from '../../src/cli/policy-file-checks';
import { CliError } from '../../src/cli/errors';

const root = resolve(__dirname, '..', '..');
const read = (p: string) => readFileSync(resolve(root, p), 'utf8');

describe('command line files', () => {
  it('the policy file schema offers exactly the grantable permissions of the API', () => {
    const schema = buildSchema(read('schema/schema.graphql'));
    const api = (schema.getType('Permission') as GraphQLEnumType)
      .getValues()
      .map((v) => v.name)
      .filter((p) => p !== 'PLATFORM_ADMIN');
    const json = JSON.parse(read('schema/latchkey.schema.json')) as { definitions: { permission: { enum: string[] } } };
    expect([...json.definitions.permission.enum].sort()).toEqual(api.sort());
  });

  it('the policy file schema offers exactly the audit actions a webhook can subscribe to, and "*"', () => {
    const json = JSON.parse(read('schema/latchkey.schema.json')) as {
      definitions: { webhookEvent: { enum: string[] } };
    };
    expect(json.definitions.webhookEvent.enum).toEqual(['*', ...AUDIT_ACTIONS]);
  });

  it('the policy-as-code guide shows examples/latchkey.yaml as it is, and it is a valid policy file', () => {
    const example = read('examples/latchkey.yaml');
    expect(read('docs/policy-as-code.md')).toContain(example.split('\n').slice(3).join('\n'));
    const file = loadPolicyFile(resolve(root, 'examples/latchkey.yaml'));
    expect(file.tokens.map((t) => t.name)).toEqual(['sales-overview', 'user-events', 'ticket-count', 'send-messages']);
    expect(file.policies[0]!.notifyBefore).toEqual(['P7D', 'P1D']);
  });

  it('refuses a file that names the same owner twice, pointing at the second', () => {
    const path = resolve(root, 'test', 'fixtures', 'duplicate-owner.yaml');
    expect(() => loadPolicyFile(path)).toThrow(CliError);
    expect(() => loadPolicyFile(path)).toThrow(`${path}:6:11: owners has "svc" twice`);
  });

  it('refuses a token scope outside its owner’s ceiling in the same file, pointing at both', () => {
    const path = resolve(root, 'test', 'fixtures', 'scope-outside-ceiling.yaml');
    expect(() => loadPolicyFile(path)).toThrow(CliError);
    expect(() => loadPolicyFile(path)).toThrow(
      `${path}:12:30: scope "crm:deals:write" is outside the ceiling of owner "widget" (declared at ${path}:8:20)`,
    );
  });

  it('the policy file schema describes every property and refuses P and PT as durations, as the CLI does', () => {
    const schema = JSON.parse(read('schema/latchkey.schema.json'));
    expect(schema.$id).toMatch(/^https:\/\//);
    const missing: string[] = [];
    const walk = (node: any, path: string) => {
      for (const [k, v] of Object.entries<any>(node?.properties ?? {})) {
        if (!v.description) missing.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
      if (node?.items) walk(node.items, `${path}[]`);
    };
    walk(schema, '');
    expect(missing).toEqual([]);
    const pattern = new RegExp(schema.definitions.duration.pattern);
    for (const ok of ['P30D', 'PT1H', 'P1DT6H', 'P2W']) expect(pattern.test(ok), ok).toBe(true);
    for (const bad of ['P', 'PT', 'P1DT', '30d']) expect(pattern.test(bad), bad).toBe(false);
  });

  it('reads a token’s networks and rate limit, normalised as the server keeps them', () => {
    const path = resolve(root, 'test', 'fixtures', 'token-restrictions.yaml');
    const file = loadPolicyFile(path);
    expect(file.tokens[0]).toMatchObject({
      allowedCidrs: ['10.0.0.0/8', '192.0.2.7/32'],
      rateLimit: { requests: 60, per: 'PT1M' },
    });
    const bad = resolve(root, 'test', 'fixtures', 'token-bad-cidr.yaml');
    expect(() => loadPolicyFile(bad)).toThrow(/token-bad-cidr.yaml:\d+:\d+: "10.0.0.0\/33" is not an IP network/);
  });

  it('has words for every pattern in the policy file schema, so no error quotes a regex', () => {
    const patterns: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (!node || typeof node !== 'object') return;
      for (const [k, v] of Object.entries(node)) {
        if (k === 'pattern') patterns.push(`${at}/pattern`);
        else walk(v, `${at}/${k}`);
      }
    };
    walk(JSON.parse(read('schema/latchkey.schema.json')), '#');
    expect(patterns.sort()).toEqual(Object.keys(PATTERN_WORDS).sort());
  });

  it('refuses, at its line, text the server would refuse because it commands a terminal', () => {
    const text = 'version: 1\nscopes:\n  - name: a:b:read\n    description: "x\\e[2J"\n';
    expect(() => parsePolicyFile(text, 'f.yaml')).toThrow(
      'f.yaml:4:18: /scopes/0/description contains the control character U+001B, which the server refuses',
    );
  });
});
