// The committed schema files: emitted schema fresh, contract copy exact, and compatible.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildSchema, findBreakingChanges } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/container';
import { buildLatchkeySchema, createResolvers, printLatchkeySchema } from '../../src/app/schema';
import { configurationDoc } from '../../src/platform/settings';

const root = resolve(__dirname, '..', '..');
const read = (p: string) => readFileSync(resolve(root, p), 'utf8');

describe('schema files', () => {
  it('schema/schema.graphql is what the code emits (run `npm run schema` when this fails)', () => {
    const emitted = printLatchkeySchema(buildLatchkeySchema(createResolvers({} as Services)));
    expect(read('schema/schema.graphql')).toBe(emitted);
  });

  it('schema/contract.graphql is a byte-for-byte copy of the shared contract', () => {
    const shared = resolve(root, '..', 'shared', 'contract', 'schema.graphql');
    // A clone without ../shared still checks compatibility below against the committed copy.
    if (!existsSync(shared)) return;
    expect(read('schema/contract.graphql')).toBe(readFileSync(shared, 'utf8'));
  });

  it('the emitted schema breaks nothing in the contract', () => {
    const breaking = findBreakingChanges(
      buildSchema(read('schema/contract.graphql')),
      buildSchema(read('schema/schema.graphql')),
    );
    expect(breaking.map((b) => `${b.type}: ${b.description}`)).toEqual([]);
  });

  it('docs/configuration.md is what the table of settings says (run `npm run schema` when this fails)', () => {
    expect(read('docs/configuration.md')).toBe(configurationDoc());
  });
});
