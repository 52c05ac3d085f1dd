import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { header, Output } from '../../src/cli/output';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk;
    done();
  }
}

describe('tables for people', () => {
  it('heads columns in words, aligned to the widest cell', () => {
    expect(header('nextRotationAt')).toBe('NEXT ROTATION AT');
    expect(header('id')).toBe('ID');
    const out = new Capture();
    new Output('table', out as unknown as NodeJS.WriteStream, out as unknown as NodeJS.WriteStream).table(
      [{ name: 'crm', expiresAt: null }],
      ['name', 'expiresAt'],
    );
    expect(out.text).toBe('NAME  EXPIRES AT\ncrm   -\n');
  });
});

describe('text that would command a terminal', () => {
  const capture = (colour: boolean) => {
    const out = new Capture();
    const stream = Object.assign(out, { isTTY: colour }) as unknown as NodeJS.WriteStream;
    return { out, o: new Output('table', stream, stream) };
  };

  it('reaches no table, record, line or note raw, while the colours that are ours still do', () => {
    const { out, o } = capture(true);
    o.table([{ name: 'x\u001b[1Ay', labels: { ['k\u202e']: 'v\n' } }], ['name', 'labels']);
    o.record({ name: 'x\u001b[1Ay' });
    o.line('plain ', o.paint('1', 'bold\u001b[0m'), ' x\ny');
    o.note('note\r');
    const painted = out.text.match(/\u001b\[[0-9;]*m/g) ?? [];
    expect(out.text.replace(/\u001b\[[0-9;]*m/g, '')).not.toMatch(
      /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/,
    );
    expect(painted.length).toBeGreaterThan(0);
    expect(out.text).toContain('x\\u001b[1Ay');
    expect(out.text).toContain('k\\u202e=v\\u000a');
    expect(out.text).toContain('\u001b[1mbold\\u001b[0m\u001b[0m x\\u000ay');
  });
});
