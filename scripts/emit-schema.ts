// Writes schema/schema.graphql from the code, without a database.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Services } from '../src/app/container';
import { buildLatchkeySchema, createResolvers, printLatchkeySchema } from '../src/app/schema';

const target = resolve(__dirname, '..', '..', 'schema', 'schema.graphql');
// Emitting resolves nothing, so the resolvers get no services.
const schema = buildLatchkeySchema(createResolvers({} as Services));
writeFileSync(target, printLatchkeySchema(schema));
console.log(`wrote ${target}`);
