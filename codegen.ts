// GraphQL Code Generator: typed documents from the emitted schema, for the command line and for the
// tests, with one configuration. `npm run codegen` writes them; test/unit/codegen.test.ts fails
// when either is stale.
import type { CodegenConfig } from '@graphql-codegen/cli';

const typedDocuments = (documents: string) => ({
  documents,
  plugins: ['typescript-operations', 'typed-document-node'],
  config: {
    scalars: { DateTime: 'string', Duration: 'string', JSONObject: 'Record<string, unknown>', SafeInt: 'number' },
    enumsAsTypes: true,
    useTypeImports: true,
    avoidOptionals: { field: true, inputValue: false, object: true },
  },
});

export const codegenConfig: CodegenConfig = {
  schema: 'schema/schema.graphql',
  generates: {
    'src/cli/generated/graphql.ts': typedDocuments('src/cli/documents.graphql'),
    'test/generated/graphql.ts': typedDocuments('test/documents.graphql'),
  },
  hooks: { afterOneFileWrite: [] },
};

export default codegenConfig;
