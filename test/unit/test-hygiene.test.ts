// The tests and the benches share a machine's Postgres and Redis with other people's: none of them
// may wipe a Redis, pick a Redis database by number, or name a server or a database of its own
// accord. Only scripts/shared/infra.ts knows the defaults; a Redis of a test's own
// (redis-process.ts) may be flushed.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

const RULES: Array<[RegExp, string, string[]]> = [
  [
    /flushdb|flushall/i,
    'wipes a Redis',
    ['test/helpers/redis-process.ts', 'test/component/webhook-redis-loss.test.ts'],
  ],
  [/redis:\/\/[^'"`\s]*:\d+\/(\d|\$\{)/, 'picks a Redis database by number', []],
  // (address-rules only uses such endpoints as data for the rules; it connects nowhere.)
  [
    /127\.0\.0\.1:(5432|6379)|localhost:(5432|6379)/,
    'names the machine’s Postgres or Redis',
    ['scripts/shared/infra.ts', 'test/unit/config.test.ts', 'test/unit/address-rules.test.ts'],
  ],
  [
    /lktest|latchkey_(test|proc)/,
    'names a database or Redis prefix of its own accord (see own-database.ts)',
    ['test/helpers/global-setup.ts', 'test/component/shared-machine.test.ts'],
  ],
];

it('no test or bench wipes a shared Redis, picks its database, or names a server, database or prefix itself', () => {
  const found: string[] = [];
  for (const path of [...files(join(root, 'test')), ...files(join(root, 'scripts'))]) {
    const rel = relative(root, path);
    readFileSync(path, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/^\s*(\/\/|\*)/.test(line) || rel === 'test/unit/test-hygiene.test.ts') return;
        for (const [rule, what, allowed] of RULES)
          if (rule.test(line) && !allowed.includes(rel)) found.push(`${rel}:${i + 1}: ${what}`);
      });
  }
  expect(found).toEqual([]);
});
