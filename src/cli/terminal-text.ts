// Everything the command line writes to a terminal passes through here. Characters that would
// command the terminal rather than show (escape sequences, carriage returns, bidi overrides) are
// written as \uXXXX instead: the API refuses them in names and labels, but rows written before it
// did, and messages quoting them, still arrive. \uXXXX is also a JSON escape, so JSON output
// escaped here still parses to the same values.
import { TERMINAL_CONTROL } from '../platform/hostile-input';

const EVERY = new RegExp(TERMINAL_CONTROL.source, 'g');
const BUT_NEWLINES = new RegExp(`(?!\\n)${TERMINAL_CONTROL.source}`, 'g');

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `text` with every terminal control written out visibly. `keepNewlines` is for text whose lines
 * are ours (a pretty-printed JSON document, an error listing several problems); a name or a
 * message line never keeps one, so that it cannot forge the next line.
 */
export function visible(text: string, { keepNewlines = false } = {}): string {
  return text.replace(keepNewlines ? BUT_NEWLINES : EVERY, escape);
}
