import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeResult } from '../../scripts/bench/harness';

describe('bench results', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-results-'));
  afterEach(() => {
    delete process.env.BENCH_RESULTS_DIR;
  });

  it('writes the figures with the machine and the commit they were measured on', () => {
    process.env.BENCH_RESULTS_DIR = dir;
    const path = writeResult('example', { rps: 1234, p99: 4.5 });
    const result = JSON.parse(readFileSync(path, 'utf8'));
    expect(path).toBe(join(dir, 'example.json'));
    expect(result.bench).toBe('example');
    expect(result.figures).toEqual({ rps: 1234, p99: 4.5 });
    expect(result.machine).toMatch(/ × .*GiB, Node v\d+/);
    expect(result.commit).toMatch(/^[0-9a-f]{40}(\+changes)?$/);
    expect(Date.parse(result.at)).not.toBeNaN();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every bench script records its figures', () => {
    for (const script of ['bench-verify', 'bench-fanout', 'bench-lifecycle', 'bench-credentials', 'bench-cli-start']) {
      const source = readFileSync(join(__dirname, '..', '..', 'scripts', `${script}.ts`), 'utf8');
      expect(source, script).toMatch(/writeResult\('[a-z-]+', /);
    }
  });
});
