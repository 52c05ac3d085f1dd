// Text that would command a terminal, made visible before the command line writes it.
import { describe, expect, it } from 'vitest';
import { visible } from '../../src/cli/terminal-text';

describe('text that would command a terminal', () => {
  it('is written out as \\uXXXX, a JSON escape too; newlines are kept only where asked', () => {
    expect(visible('a\u001b[2Jb\r\u009b\u202e\u2028\u2066')).toBe('a\\u001b[2Jb\\u000d\\u009b\\u202e\\u2028\\u2066');
    expect(visible('one\ntwo')).toBe('one\\u000atwo');
    expect(visible('one\ntwo\u001b', { keepNewlines: true })).toBe('one\ntwo\\u001b');
    expect(JSON.parse(visible(JSON.stringify({ n: 'x\u009by\u202e' })))).toEqual({ n: 'x\u009by\u202e' });
  });
});
