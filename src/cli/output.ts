// How the command line prints: aligned tables for people, JSON with stable field names for
// scripts (--output json), colour only on a terminal, progress on stderr. Every text it writes
// goes through visible(): nothing it prints can command the terminal but its own colours.
import { visible } from './terminal-text';

export type Format = 'table' | 'json';

/** Text to be shown in a colour (an SGR code), when colour is on. */
export class Painted {
  constructor(
    readonly code: string,
    readonly text: string,
  ) {}
}

export class Output {
  readonly colour: boolean;

  constructor(
    readonly format: Format,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly err: NodeJS.WriteStream = process.stderr,
  ) {
    this.colour = out.isTTY === true && !process.env.NO_COLOR;
  }

  get json(): boolean {
    return this.format === 'json';
  }

  /** A result: JSON as is, or what `human` makes of it. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.out.write(`${visible(JSON.stringify(value, null, 2), { keepNewlines: true })}\n`);
    else human();
  }

  /** One line of text and painted pieces; a newline inside it is shown, not obeyed. */
  line(...parts: Array<string | Painted>): void {
    this.out.write(
      `${parts.map((p) => (p instanceof Painted ? (this.colour ? `\u001b[${p.code}m${visible(p.text)}\u001b[0m` : visible(p.text)) : visible(p))).join('')}\n`,
    );
  }

  /** Notes for people, never mixed into the data on stdout. */
  note(text: string): void {
    this.err.write(`${visible(text)}\n`);
  }

  table(rows: Array<Record<string, unknown>>, columns: string[]): void {
    if (rows.length === 0) {
      this.note('(none)');
      return;
    }
    const cells = rows.map((r) => columns.map((c) => cell(r[c])));
    const headers = columns.map(header);
    const widths = columns.map((_, i) => Math.max(headers[i]!.length, ...cells.map((row) => row[i]!.length)));
    this.line(
      this.paint(
        '1',
        headers
          .map((h, i) => h.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      ),
    );
    for (const row of cells)
      this.line(
        row
          .map((v, i) => v.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      );
  }

  /** Key: value lines for one object. */
  record(fields: Record<string, unknown>): void {
    const width = Math.max(...Object.keys(fields).map((k) => k.length));
    for (const [k, v] of Object.entries(fields)) this.line(this.paint('1', `${k}:`.padEnd(width + 1)), ` ${cell(v)}`);
  }

  paint(code: string, text: string): Painted {
    return new Painted(code, text);
  }

  /** A progress bar on stderr, drawn only on a terminal. */
  progress(total: number, label: string): { tick(): void; done(): void } {
    const tty = this.err.isTTY === true;
    let n = 0;
    const draw = () => {
      if (!tty) return;
      const width = 30;
      const filled = total === 0 ? width : Math.round((n / total) * width);
      this.err.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${total}`);
    };
    draw();
    return {
      tick: () => {
        n++;
        draw();
      },
      done: () => {
        if (tty) this.err.write('\n');
      },
    };
  }
}

/** A column's heading as people read it: nextRotationAt is NEXT ROTATION AT. */
export const header = (column: string) => column.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.length ? v.map(cell).join(',') : '-';
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length ? entries.map(([k, x]) => `${visible(k)}=${cell(x)}`).join(',') : '-';
  }
  return visible(String(v));
}
