// The committed output of codegen.ts: the command line's typed documents and the tests' are what
// codegen makes of the schema and the documents today.
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import { codegenConfig } from '../../codegen';

const root = resolve(__dirname, '..', '..');
const read = (p: string) => readFileSync(resolve(root, p), 'utf8');

describe('generated documents', () => {
  it('src/cli/generated/graphql.ts and test/generated/graphql.ts are what codegen makes of the schema and the documents (run `npm run codegen`)', async () => {
    const outputs = (await generate({ ...codegenConfig, cwd: root, silent: true }, false)) as Array<{
      filename: string;
      content: string;
    }>;
    const files = Object.keys(codegenConfig.generates);
    expect(files).toEqual(['src/cli/generated/graphql.ts', 'test/generated/graphql.ts']);
    expect(outputs.map((o) => relative(root, resolve(root, o.filename))).sort()).toEqual(files);
    for (const { filename, content } of outputs) expect(read(filename), filename).toBe(content);
  }, 60_000);
});
