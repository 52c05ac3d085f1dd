// Hostile text in any input: NUL, unpaired surrogates, secrets, terminal controls, invisible characters.
import { describe, expect, it } from 'vitest';
import { findHostileText } from '../../src/platform/hostile-input';

describe('findHostileText', () => {
  it('finds NUL, unpaired surrogates and secrets, in keys too, with the path', () => {
    expect(findHostileText({ a: ['ok', 'x\u0000'] }, 'input')).toMatchObject({ path: 'input.a[1]' });
    expect(findHostileText('\ud83d\ude00 paired', 'name')).toBeNull();
    expect(findHostileText('\ud83d alone', 'name')).toMatchObject({ path: 'name' });
    expect(findHostileText({ ['k\udc00']: 'v' }, 'labels')?.path).toBe('labels (a key)');
    expect(findHostileText(`lk_${'a'.repeat(49)}`, 'reason')?.problem).toMatch(/secret/);
    expect(findHostileText(`lk_${'a'.repeat(49)}`, 'secret', true)).toBeNull();
    expect(findHostileText({ name: 'a\u001b[2J' }, 'input')).toMatchObject({
      path: 'input.name',
      problem: expect.stringContaining('U+001B'),
    });
    expect(findHostileText('line\nbreak', 'input.value')).toBeNull(); // a credential's value is for a program
    // Invisible characters that make one name pass for another.
    for (const c of ['\u200b', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u200e'])
      expect(findHostileText(`ad${c}min`, 'name'), c).toMatchObject({ path: 'name' });
    expect(findHostileText({ value: 'x\u202e' }, 'input.labels')?.path).toBe('input.labels.value');
  });
});
