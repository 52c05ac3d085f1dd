// Text no argument may carry, whatever the field: NUL (Postgres cannot store it), unpaired UTF-16
// surrogates (not Unicode: JSON columns refuse them), anything shaped like a Latchkey secret
// outside the arguments meant to hold one (it would reach the audit log), and characters that
// command a terminal instead of showing (names, descriptions, labels and reasons end up in people's
// terminals and pages). Refused before any resolver runs, naming the argument, so that no door
// turns them into an internal error and nothing is written.
import type { MiddlewareFn } from 'type-graphql';
import { badInput } from './errors';

const NOT_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Anything shaped like a Latchkey secret: never in an argument meant for text, never in the audit log. */
export const SECRET_SHAPE = /lk_[0-9A-Za-z]{49}/;
/**
 * C0 and C1 controls and DEL, line and paragraph separators, the bidirectional marks, embeddings,
 * overrides and isolates that reorder what follows them, and the invisible characters (zero-width
 * space, joiners, word joiner, invisible operators, BOM, soft hyphen, Mongolian vowel separator)
 * that make one name look like another: each can rewrite or disguise what a person reads.
 */
export const TERMINAL_CONTROL =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;
/** Arguments whose purpose is to carry a secret. */
const SECRET_ARGUMENTS = new Set(['secret']);
/** Arguments that carry a value for a program, never shown to a person: a secret, a credential's value (a PEM key has newlines). */
const OPAQUE_ARGUMENTS = new Set(['secret', 'input.value']);

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** The path of the first string in `value` that is not text (or carries a secret, or commands a terminal), or null. */
export function findHostileText(
  value: unknown,
  path: string,
  secretsAllowed = false,
): { path: string; problem: string } | null {
  if (typeof value === 'string') {
    if (NOT_TEXT.test(value)) return { path, problem: 'contains a NUL character or an unpaired surrogate' };
    if (!secretsAllowed && SECRET_SHAPE.test(value))
      return { path, problem: 'contains something shaped like a Latchkey secret, which is never stored in plain text' };
    const control = OPAQUE_ARGUMENTS.has(path) ? null : TERMINAL_CONTROL.exec(value);
    if (control)
      return {
        path,
        problem: `contains the control character ${codePoint(control[0])}, which would command the terminal of whoever reads it (or disguise what it shows)`,
      };
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findHostileText(value[i], `${path}[${i}]`, secretsAllowed);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) {
      const keyFound = findHostileText(k, `${path} (a key)`, secretsAllowed);
      if (keyFound) return keyFound;
      const found = findHostileText(v, `${path}.${k}`, secretsAllowed);
      if (found) return found;
    }
  }
  return null;
}

export const rejectHostileArguments: MiddlewareFn = ({ args }, next) => {
  for (const name in args) {
    const found = findHostileText(args[name], name, SECRET_ARGUMENTS.has(name));
    if (found) throw badInput(`${found.path} ${found.problem}`, { argument: found.path });
  }
  return next();
};
