// The command line starts in a blink: printing its version or a command's help loads commander
// and its own modules, not GraphQL, YAML, JSON Schema, WebSocket or anything of the server's.
// (Time itself is measured by `npm run bench:cli-start`; this checks the cause, on any machine.)
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const BIN = resolve(root, 'bin', 'latchkey.js');

/** Runs the built latchkey with `args`; returns its output and the packages it loaded. */
function start(args: string[]): Promise<{ code: number; stdout: string; packages: string[] }> {
  // As bin/latchkey.js runs, with the module cache written out at exit.
  const script = `process.on('exit', () => process.stderr.write('\\n' + JSON.stringify(Object.keys(require.cache))));
process.argv.splice(1, 0, ${JSON.stringify(BIN)}); require(${JSON.stringify(BIN)});`;
  return new Promise((done, fail) =>
    execFile(
      process.execPath,
      ['-e', script, '--', ...args],
      { cwd: root, env: { PATH: process.env.PATH } },
      (err, stdout, stderr) => {
        let loaded: string[];
        try {
          loaded = JSON.parse(stderr.slice(stderr.lastIndexOf('\n') + 1)) as string[];
        } catch {
          return fail(new Error(`no module list from latchkey ${args.join(' ')}: ${stderr}`));
        }
        const packages = new Set(loaded.flatMap((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1] ?? []));
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, packages: [...packages].sort() });
      },
    ),
  );
}

describe('latchkey at start', () => {
  it.each([
    [['--version']],
    [['--help']],
    [['tokens', '--help']],
    [['plan', '--help']],
    [['credentials', 'get', '--help']],
  ])('%j loads no package but commander', async (args) => {
    const r = await start(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(args[0] === '--version' ? /^\d+\.\d+\.\d+\n$/ : /^Usage: latchkey/);
    expect(r.packages).toEqual(['commander']);
  });

  it('loads what a command needs when it runs (plan: YAML and JSON Schema)', async () => {
    const r = await start([
      'plan',
      '-f',
      resolve(root, 'test', 'fixtures', 'duplicate-owner.yaml'),
      '--url',
      'http://127.0.0.1:9',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.packages).toEqual(expect.arrayContaining(['ajv', 'yaml']));
  });
});
