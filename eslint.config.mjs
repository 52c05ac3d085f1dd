// Lint rules that catch real bugs (formatting is Prettier's): a promise nobody awaits, a promise
// where a callback's result is ignored, an await of something that is no promise, and imports of
// types that would load a module at run time for nothing.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/generated/**', '.data/**', '.tmp/**'] },
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: {
      parser: tseslint.parser,
      // Typed linting: the rules below need the types. It also tells the type-imports rule that
      // decorator metadata is emitted, so it leaves what a decorated class refers to as it is.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
);
