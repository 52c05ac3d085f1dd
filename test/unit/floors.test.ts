// The floor rule of docs/architecture.md, held: every folder of src/ imports only folders on lower
// floors (the exceptions below, each with its reason), and no files import each other in a circle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '..', '..', 'src');

/** Bottom to top: a folder may import the folders before it. */
const FLOORS = [
  'platform',
  'outbound',
  'iam',
  'audit',
  'scopes',
  'owners',
  'roles',
  'policies',
  'tokens',
  'credentials',
  'webhooks',
  'verify',
  'lifecycle',
  'tenants',
  'events',
  'http',
  'app',
  'main.ts',
  // The command line and its client stand apart: they reach the server over HTTP only.
  'client',
  'cli',
];

/** Imports that run up a floor, allowed with their reason. Keep it short: at most six. */
const ALLOWED_UP: Array<[from: string, to: string, why: string]> = [];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'generated' ? [] : files(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Every import of a file of src/ that names another file of src/ (relative paths: static, type-only, dynamic or require). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:from|import|require)\s*\(?\s*'(\.\.?\/[^']+)'/g)].map((m) =>
    resolve(dirname(file), m[1]!),
  );
  return found
    .map((p) => (p.endsWith('.ts') ? p : `${p}.ts`))
    .filter((p) => p.startsWith(SRC) && statSync(p, { throwIfNoEntry: false })?.isFile());
}

const folderOf = (file: string) => relative(SRC, file).split('/')[0]!;
const graph = new Map(files(SRC).map((f) => [f, importsOf(f)]));

describe('the floors of src/', () => {
  it('sees the imports it judges', () => {
    // A scan that found nothing would pass every rule below.
    expect(graph.get(join(SRC, 'cli', 'commands', 'policy-as-code.ts'))).toContain(join(SRC, 'cli', 'plan-apply.ts'));
    expect([...graph.values()].reduce((n, targets) => n + targets.length, 0)).toBeGreaterThan(500);
  });

  it('names every folder on a floor', () => {
    expect([...new Set([...graph.keys()].map(folderOf))].filter((f) => !FLOORS.includes(f))).toEqual([]);
  });

  it('has every import run down a floor, but for the allowed few', () => {
    expect(ALLOWED_UP.length).toBeLessThanOrEqual(6);
    const up = new Set<string>();
    for (const [file, imports] of graph) {
      for (const target of imports) {
        const [from, to] = [folderOf(file), folderOf(target)];
        if (from === to || FLOORS.indexOf(to) < FLOORS.indexOf(from)) continue;
        if (ALLOWED_UP.some(([a, b]) => a === from && b === to)) continue;
        up.add(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    expect([...up].sort()).toEqual([]);
  });

  it('keeps the command line and its client off the server: they import platform/ and each other only', () => {
    const reached = new Set<string>();
    for (const [file, imports] of graph) {
      if (!['cli', 'client'].includes(folderOf(file))) continue;
      for (const target of imports)
        if (!['cli', 'client', 'platform'].includes(folderOf(target)))
          reached.add(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
    }
    expect([...reached].sort()).toEqual([]);
  });

  it('has no files that import each other in a circle', () => {
    // Tarjan's strongly connected components: any with more than one file is a circle.
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const circles: string[][] = [];
    let next = 0;
    const visit = (v: string) => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(relative(SRC, w));
        } while (w !== v);
        if (component.length > 1) circles.push(component.sort());
      }
    };
    for (const v of graph.keys()) if (!index.has(v)) visit(v);
    expect(circles).toEqual([]);
  });
});
