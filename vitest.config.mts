import { createRequire } from 'node:module';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  // SWC, not esbuild: type-graphql and TypeORM need decorator metadata.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    // One graphql for everyone: tests would otherwise get graphql's .mjs and type-graphql its .js.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    // unit/: one module, no database, no network. integration/: the API or workers in the test's own
    // process, on the run's Postgres and Redis. component/: Latchkey's server, or a Postgres, Redis
    // or nginx of the test's own, in processes the test starts and stops (needs `npm run build`).
    // test/README.md says more.
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/component/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
