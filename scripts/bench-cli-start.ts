// bench:cli-start — how long the latchkey command line takes to print its version and its help,
// against a bare `node -e 0` in the same run: the commands are alternated so that a busy moment of
// the machine falls on all of them alike. Target: at most 150 ms more than node at the median.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fmt, machine, ROOT, writeResult } from './bench/harness';
import { median, percentile } from './bench/stats';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const TARGET_MS = 150;
const BIN = join(ROOT, 'bin', 'latchkey.js');

const COMMANDS: Array<[string, string[]]> = [
  ['node -e 0', ['-e', '0']],
  ['latchkey --version', [BIN, '--version']],
  ['latchkey tokens --help', [BIN, 'tokens', '--help']],
  ['latchkey plan --help', [BIN, 'plan', '--help']],
];

/** Milliseconds from spawn to exit; a command that fails stops the bench rather than timing an error. */
function once(label: string, args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH },
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${label} exited with ${r.status}: ${r.stderr}`);
  return ms;
}

function main(): void {
  console.log(`bench:cli-start: ${RUNS} runs of each command, alternated; ${machine()}`);
  for (const [label, args] of COMMANDS) once(label, args); // warm the file cache
  const times = new Map<string, number[]>(COMMANDS.map(([label]) => [label, []]));
  for (let i = 0; i < RUNS; i++) for (const [label, args] of COMMANDS) times.get(label)!.push(once(label, args));

  const stats = new Map(
    [...times].map(([label, xs]) => [
      label,
      {
        median: median(xs),
        p90: percentile(
          [...xs].sort((a, b) => a - b),
          90,
        ),
      },
    ]),
  );
  const base = stats.get('node -e 0')!;
  const figures: Record<string, unknown> = {
    runs: RUNS,
    targetMs: TARGET_MS,
    nodeMedianMs: base.median,
    nodeP90Ms: base.p90,
  };
  console.log(
    `\n${'command'.padEnd(26)} ${'median ms'.padStart(10)} ${'p90 ms'.padStart(8)} ${'median − node'.padStart(14)} ${'p90 − node'.padStart(11)}`,
  );
  let met = true;
  for (const [label, s] of stats) {
    const more = s.median - base.median;
    const moreP90 = s.p90 - base.p90;
    console.log(
      `${label.padEnd(26)} ${fmt(s.median).padStart(10)} ${fmt(s.p90).padStart(8)} ${(label === 'node -e 0' ? '-' : fmt(more)).padStart(14)} ${(label === 'node -e 0' ? '-' : fmt(moreP90)).padStart(11)}`,
    );
    if (label === 'node -e 0') continue;
    figures[label] = { medianMs: s.median, p90Ms: s.p90, medianOverNodeMs: more, p90OverNodeMs: moreP90 };
    met &&= more <= TARGET_MS;
  }
  figures.targetMet = met;
  console.log(
    `\ntarget (every command at most ${TARGET_MS} ms more than node -e 0 at the median): ${met ? 'met' : 'NOT met'}`,
  );
  writeResult('cli-start', figures);
}

main();
