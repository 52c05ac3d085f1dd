// A consumer installs the client: the packed tarball (`npm pack` of the built package) is installed
// into a scratch project, whose CommonJS script, ES module (the README's two lines, verbatim) and
// TypeScript file use `latchkey/client` to read a credential from a real Latchkey. Needs the build
// (`npm test` builds first).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api';
import { issue, newTenant } from '../helpers/fixtures';

const run = promisify(execFile);
const root = resolve(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const NAME = 'crm-sales-readonly';

let api: TestApi;
let dir: string;
let app: string;
let packed: string[];
/** The environment the README's lines read: the server and the consumer's CONTROL token. */
let env: Record<string, string>;

beforeAll(async () => {
  api = await startTestApi();
  const t = await newTenant(api);
  const { createOwner } = await api.ok(
    t.adminToken,
    `mutation { createOwner(input: { kind: SERVICE, name: "homepage-dashboard-backend" }) { id } }`,
  );
  await api.ok(t.adminToken, `mutation($i: CreateCredentialInput!) { createCredential(input: $i) { id } }`, {
    i: { name: NAME, value: 'crm-key-one' },
  });
  await api.ok(t.adminToken, `mutation($n: String!, $o: ID!) { grantCredential(name: $n, ownerId: $o) { ownerId } }`, {
    n: NAME,
    o: createOwner.id,
  });
  // A CONTROL token of the granted owner: DATA tokens cannot read credentials.
  const backend = await issue(api, t.adminToken, createOwner.id, [], { kind: 'CONTROL' });
  env = { PATH: process.env.PATH!, LATCHKEY_URL: api.url, BACKEND_TOKEN: backend.secret };

  dir = mkdtempSync(join(tmpdir(), 'latchkey-client-package-'));
  // The build is what `npm test` just made: pack it as it is, without running prepare again.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root });
  const [pack] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = pack!.files.map((f) => f.path);
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // Its dependencies come from npm's cache when they can (the checkout installed the same versions).
  await run(
    'npm',
    [
      'install',
      join(dir, pack!.filename),
      '--omit=dev',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
    ],
    { cwd: app },
  );
}, 240_000);

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await api?.close();
});

const node = async (file: string) => (await run(process.execPath, [file], { cwd: app, env })).stdout;

describe('latchkey/client from an installed tarball', () => {
  it('holds the build, the command line and the client’s types; no tests, TypeScript sources or data', () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        'package.json',
        'bin/latchkey.js',
        'dist/src/main.js',
        'dist/src/client/credentials.js',
        'dist/src/client/credentials.d.ts',
      ]),
    );
    expect(
      packed.filter((p) => /(^|\/)(test|\.data|\.tmp)\//.test(p) || /\.test\.|(^|\/)src\/.*(?<!\.d)\.ts$/.test(p)),
    ).toEqual([]);
  });

  it('reads a credential with require()', async () => {
    writeFileSync(
      join(app, 'read.cjs'),
      `const { CredentialsClient } = require('latchkey/client');
new CredentialsClient({ url: process.env.LATCHKEY_URL, token: process.env.BACKEND_TOKEN }).get(${JSON.stringify(NAME)}).then((c) => console.log(c.value));`,
    );
    expect(await node('read.cjs')).toBe('crm-key-one\n');
  });

  it('reads a credential with import { CredentialsClient }: the README’s two lines as written', async () => {
    const lines = /```js\n(import \{ CredentialsClient \} from 'latchkey\/client';[\s\S]*?)```/.exec(readme)?.[1];
    expect(lines?.trim().split('\n')).toHaveLength(2);
    writeFileSync(
      join(app, 'read.mjs'),
      `${lines}console.log((await credentials.get(${JSON.stringify(NAME)})).value);\n`,
    );
    expect(await node('read.mjs')).toBe('crm-key-one\n');
  });

  it('gives TypeScript its types, in CommonJS and ES module files alike', async () => {
    const source = `import { CredentialError, CredentialsClient, type CredentialValue } from 'latchkey/client';
export async function read(): Promise<string> {
  const client = new CredentialsClient({ url: 'http://127.0.0.1:4000', token: 'lk_example' });
  const v: CredentialValue = await client.get('crm');
  // @ts-expect-error maxAgeMs is a number: the types are the client's, not any
  new CredentialsClient({ url: 'x', token: 'y', maxAgeMs: '1' });
  return v.value + String(new CredentialError('m', 403, 'FORBIDDEN').status);
}
`;
    writeFileSync(join(app, 'check.ts'), source);
    writeFileSync(join(app, 'check.mts'), source);
    const compilerOptions = {
      module: 'node16',
      moduleResolution: 'node16',
      target: 'ES2022',
      strict: true,
      noEmit: true,
      types: [],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['check.ts', 'check.mts'] }));
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', app]).catch((err: { stdout: string }) => err);
    expect(result.stdout).toBe('');
  });

  it('keeps the package’s own entry points: the latchkey command and the main module', async () => {
    expect((await run(join(app, 'node_modules', '.bin', 'latchkey'), ['--version'], { env })).stdout).toMatch(
      /^\d+\.\d+\.\d+\n$/,
    );
    expect((await run(process.execPath, ['-p', `require.resolve('latchkey')`], { cwd: app })).stdout.trim()).toBe(
      join(app, 'node_modules', 'latchkey', 'dist', 'src', 'main.js'),
    );
  });
});
