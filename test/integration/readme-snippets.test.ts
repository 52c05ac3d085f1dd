// The README's code runs as written: its subscription snippet is taken from the README, pointed
// at a test server, and run with Node.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { newTenant, type TenantFixture } from '../helpers/fixtures';

const run = promisify(execFile);
const root = resolve(__dirname, '..', '..');
// Inside the checkout, so that the snippet's imports resolve from its node_modules.
const dir = join(root, 'test', '.tmp');
let api: TestApi;
let t: TenantFixture;

beforeAll(async () => {
  api = await startTestApi();
  t = await newTenant(api);
  mkdirSync(dir, { recursive: true });
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await api.close();
});

/** The first ```js block after `marker` in the README. */
function snippetAfter(marker: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const from = readme.indexOf(marker);
  expect(from, marker).toBeGreaterThan(-1);
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(from));
  return m![1]!;
}

it('the subscription snippet receives the expiring tokens on Node 20', async () => {
  const snippet = snippetAfter('**Subscriptions** over `graphql-ws`').replaceAll('ws://127.0.0.1:4000', api.url.replace('http', 'ws'));
  // `render` is the reader's: here it prints what arrived and ends the program.
  const program = `const render = (x) => { console.log(JSON.stringify(x)); process.exit(0); };\nsetTimeout(() => { console.error('no answer'); process.exit(2); }, 10_000);\n${snippet}`;
  const file = join(dir, 'subscription.mjs');
  writeFileSync(file, program);
  const { stdout } = await run(process.execPath, [file], { env: { ...process.env, LATCHKEY_TOKEN: t.adminToken } });
  expect(JSON.parse(stdout.trim())).toMatchObject({ initial: true, tokens: expect.any(Array) });
});
