import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { completionTable } from '../../src/cli/commands/completion';
import { buildProgram } from '../../src/cli/main';

const BIN = resolve(__dirname, '..', '..', 'bin', 'latchkey.js');

describe('shell completion', () => {
  it('knows every command and its options, from the program itself', () => {
    const table = completionTable(buildProgram());
    expect(table.get('')).toEqual(
      expect.arrayContaining(['tokens', 'credentials', 'webhooks', 'plan', 'apply', 'audit', '--version', '--output']),
    );
    expect(table.get('tokens list')).toEqual(expect.arrayContaining(['--owner', '--status', '--limit']));
    expect(table.get('credentials')).toEqual(expect.arrayContaining(['get', 'rotate', 'rotator']));
  });

  it('completes in bash as people type', () => {
    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source <(node ${BIN} completion bash); COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _latchkey; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: 'utf8' },
      ).trim();
    expect(complete('latchkey', 'cred')).toBe('credentials');
    expect(complete('latchkey', 'credentials', 'ro')).toBe('rotate rotator');
    expect(complete('latchkey', 'tokens', 'list', '--ow')).toBe('--owner');
    expect(complete('latchkey', 'tokens', 'show', '01936f3e', '--o')).toBe('--output');
  });
});
