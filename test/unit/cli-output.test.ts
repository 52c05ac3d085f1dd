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
    new Output('table', out as unknown as NodeJS.WriteStream, out as unknown as NodeJS.WriteStream).table([{ name: 'crm', expiresAt: null }], ['name', 'expiresAt']);
    expect(out.text).toBe('NAME  EXPIRES AT\ncrm   -\n');
  });
});
