// Nothing the API returns is unbounded, and the cost rule knows each bound: every object list
// either pages (a connection, or a `first` argument) or declares the most it returns; and every
// document Latchkey's own CLI sends fits the default limits.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  parse,
  specifiedRules,
  validate,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/container';
import { buildLatchkeySchema, createResolvers } from '../../src/app/schema';
import { loadConfig } from '../../src/platform/config';
import { maxItemsOf, operationLimits } from '../../src/platform/graphql-limits';
import { MAX_PAGE } from '../../src/platform/pagination';

const schema = buildLatchkeySchema(createResolvers({} as Services));

describe('list bounds', () => {
  it('every object list pages or declares how many items it returns at most', () => {
    const unbounded: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!(isObjectType(type) || isInterfaceType(type)) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        const named = getNamedType(field.type);
        if (!isListType(getNullableType(field.type)) || !(isObjectType(named) || isInterfaceType(named))) continue;
        if (type.name.endsWith('Connection') && field.name === 'edges') continue; // paged by the connection
        const max = maxItemsOf(field);
        if (max === undefined && !field.args.some((a) => a.name === 'first'))
          unbounded.push(`${type.name}.${field.name}`);
      }
    }
    expect(unbounded).toEqual([]);
  });

  it('every document the CLI sends fits the default depth, alias and cost limits, with its pages at their largest', () => {
    const limits = loadConfig({
      NODE_ENV: 'test',
      TOKEN_PEPPER: 'x'.repeat(32),
      ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
      AUDIT_SIGNING_KEY: Buffer.alloc(32).toString('base64'),
    }).graphql;
    const documents = parse(readFileSync(resolve(__dirname, '..', '..', 'src', 'cli', 'documents.graphql'), 'utf8'));
    const errors = validate(schema, documents, [...specifiedRules, operationLimits(limits)]);
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(MAX_PAGE).toBe(100); // variables are priced at the largest page
  });
});
