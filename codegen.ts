// GraphQL Code Generator: typed documents for the command line from the emitted schema.
// `npm run codegen` writes them; test/unit/cli-codegen.test.ts fails when they are stale.
import type { CodegenConfig } from '@graphql-codegen/cli';

export const codegenConfig: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: 'src/cli/documents.graphql',
  generates: {
    'src/cli/generated/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        scalars: { DateTime: 'string', Duration: 'string', JSONObject: 'Record<string, unknown>', SafeInt: 'number' },
        enumsAsTypes: true,
        useTypeImports: true,
        avoidOptionals: { field: true, inputValue: false, object: true },
      },
    },
  },
  hooks: { afterOneFileWrite: [] },
};

export default codegenConfig;
