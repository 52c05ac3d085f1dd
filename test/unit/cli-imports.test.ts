// The command line's modules import each other without a circle: shared types live in files of
// their own (cli/change.ts), so any file of src/cli can be loaded on its own and lazily.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const cli = join(root, 'src', 'cli');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

/** Relative imports of a file inside src/cli (static, type-only and dynamic alike), as paths. */
function importsOf(file: string, known: Set<string>): string[] {
  const specs = [...readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\(\s*|require\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s)).flatMap((p) => [`${p}.ts`, join(p, 'index.ts')].filter((f) => known.has(f)));
}

it('the import graph of src/cli has no circle', () => {
  const all = files(cli);
  const graph = new Map(all.map((f) => [f, importsOf(f, new Set(all))]));
  const circles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      circles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(cli, p)).join(' → '));
      return;
    }
    state.set(f, 'open');
    for (const g of graph.get(f)!) visit(g, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of all) visit(f, []);
  expect(graph.get(join(cli, 'file-diff.ts'))!.length).toBeGreaterThan(3); // the scan sees imports
  expect(circles).toEqual([]);
});
