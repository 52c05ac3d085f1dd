// Docker does not run here, so the image is checked by what it is made of: every file the build
// compiled into dist/ (npm test builds it once, before the tests; this file does not build again)
// comes from a file the build stage's COPY lines put at the same place, and the final stage's files
// are assembled from dist/ the way its COPY lines say, then run (the server's modules load, the CLI
// answers).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(__dirname, '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'latchkey-image-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Stage {
  from: string;
  name: string | null;
  copies: Array<{ from: string | null; sources: string[]; dest: string }>;
  user: string | null;
}

function stages(text: string): Stage[] {
  const out: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) out.push({ from: from[1]!, name: from[2] ?? null, copies: [], user: null });
    const copy = /^COPY\s+(?:--from=(\S+)\s+)?(.+)$/i.exec(line);
    if (copy) {
      const parts = copy[2]!.split(/\s+/);
      out.at(-1)!.copies.push({ from: copy[1] ?? null, sources: parts.slice(0, -1), dest: parts.at(-1)! });
    }
    const user = /^USER\s+(\S+)$/i.exec(line);
    if (user) out.at(-1)!.user = user[1]!;
  }
  return out;
}

/** Where a stage's COPY lines put a file of the build context (a path relative to /app), or null. */
function placeOf(stage: Stage, file: string): string | null {
  for (const c of stage.copies) {
    if (c.from) continue;
    for (const source of c.sources) {
      if (file !== source && !file.startsWith(`${source}/`)) continue;
      const to = c.dest.endsWith('/') || c.sources.length > 1 ? posix.join(c.dest, posix.basename(source)) : c.dest;
      return posix.normalize(posix.join(to, posix.relative(source, file)));
    }
  }
  return null;
}

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );

/**
 * What the build compiled into dist/, as pairs of source and output (relative to the checkout): a
 * .js file's source from its source map, any other file's from its place under dist/. Outputs of
 * sources that are gone (left by an earlier build) are not what the build makes now.
 */
function compiled(): Array<{ source: string; output: string }> {
  const pairs: Array<{ source: string; output: string }> = [];
  for (const path of filesUnder(join(root, 'dist'))) {
    if (path.endsWith('.map')) continue;
    const sources =
      path.endsWith('.js') && existsSync(`${path}.map`)
        ? (JSON.parse(readFileSync(`${path}.map`, 'utf8')) as { sources: string[] }).sources.map((s) =>
            resolve(dirname(path), s),
          )
        : [join(root, relative(join(root, 'dist'), path))];
    for (const source of sources)
      if (existsSync(source)) pairs.push({ source: relative(root, source), output: relative(root, path) });
  }
  return pairs;
}

/** Copies what a stage's COPY lines copy, from the context or from an earlier stage's directory. */
function assemble(stage: Stage, into: string, built: Map<string, string>): void {
  for (const c of stage.copies) {
    const base = c.from ? built.get(c.from)! : root;
    for (const source of c.sources) {
      const from = c.from ? join(base, source.replace(/^\/app\/?/, '')) : join(base, source);
      const to =
        c.dest.endsWith('/') || c.sources.length > 1
          ? join(into, c.dest.replace(/^\.\/?/, ''), source.split('/').at(-1)!)
          : join(into, c.dest.replace(/^\.\/?/, ''));
      cpSync(from, to, { recursive: true });
    }
  }
}

describe('the Docker image', () => {
  const [build, run] = stages(dockerfile);

  it('has a build stage and a final stage that runs as an unprivileged user', () => {
    expect(build!.name).toBe('build');
    expect(run!.from).toBe(build!.from);
    expect(run!.user).toBe('node');
    expect(run!.copies.some((c) => c.from === 'build' && c.sources.includes('/app/dist'))).toBe(true);
  });

  it('compiles from exactly what the build stage copies, and the final stage holds a working server and CLI', () => {
    const runDir = join(scratch, 'run');
    const pairs = compiled();
    const sources = [...new Set(pairs.map((p) => p.source))];
    expect(sources, 'dist/ holds no build: run `npm run build` (npm test does)').toContain('src/main.ts');
    const stale = pairs
      .filter((p) => statSync(join(root, p.source)).mtimeMs > statSync(join(root, p.output)).mtimeMs)
      .map((p) => p.source);
    expect(stale, 'dist/ is older than these: run `npm run build` (npm test does)').toEqual([]);
    // Everything the build read is copied into the build stage, at the place it has here: tsc's
    // configuration and package.json, and the source of every file it wrote.
    const missing = ['package.json', 'tsconfig.json', 'tsconfig.build.json', ...sources].filter(
      (f) => placeOf(build!, f) !== f,
    );
    expect(missing).toEqual([]);

    // The build stage's /app is this checkout, as far as the final stage copies from it (dist/).
    assemble(run!, runDir, new Map([['build', root]]));
    symlinkSync(join(root, 'node_modules'), join(runDir, 'node_modules'));
    for (const f of ['package.json', 'dist/src/main.js', 'dist/schema/latchkey.schema.json', 'bin/latchkey.js'])
      expect(existsSync(join(runDir, f)), f).toBe(true);
    // The server's modules load (start-up itself is tested elsewhere), and the CLI answers.
    execFileSync(
      process.execPath,
      ['-e', "require('reflect-metadata'); require('./dist/src/app/container'); require('./dist/src/app/api')"],
      { cwd: runDir, stdio: 'pipe' },
    );
    const help = execFileSync(process.execPath, [join(runDir, 'bin', 'latchkey.js'), '--help'], {
      cwd: runDir,
      encoding: 'utf8',
    });
    expect(help).toMatch(/Usage: latchkey/);
    // The command the image runs reads its flags from package.json.
    expect(JSON.parse(readFileSync(join(runDir, 'package.json'), 'utf8')).config.nodeFlags).toMatch(
      /--no-memory-reducer/,
    );
  }, 120_000);

  it('docker-compose runs it as the host user, with the data directory bind-mounted', () => {
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
    expect(compose.services.latchkey.user).toMatch(/LATCHKEY_UID/);
    expect(compose.services.latchkey.volumes).toContain('./.data:/data');
    expect(compose.services.latchkey.environment.LATCHKEY_DATA_DIR).toBe('/data');
  });
});
