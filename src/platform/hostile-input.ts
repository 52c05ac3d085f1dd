// Text no argument may carry, whatever the field: NUL (Postgres cannot store it), unpaired UTF-16
// surrogates (not Unicode: JSON columns refuse them), and anything shaped like a Latchkey secret
// outside the arguments meant to hold one (it would reach the audit log). Refused before any
// resolver runs, naming the argument, so that no door turns them into an internal error.
import type { MiddlewareFn } from 'type-graphql';
import { badInput } from './errors';

const NOT_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Anything shaped like a Latchkey secret: never in an argument meant for text, never in the audit log. */
export const SECRET_SHAPE = /lk_[0-9A-Za-z]{49}/;
/** Arguments whose purpose is to carry a secret. */
const SECRET_ARGUMENTS = new Set(['secret']);

/** The path of the first string in `value` that is not text (or carries a secret), or null. */
export function findHostileText(value: unknown, path: string, secretsAllowed = false): { path: string; problem: string } | null {
  if (typeof value === 'string') {
    if (NOT_TEXT.test(value)) return { path, problem: 'contains a NUL character or an unpaired surrogate' };
    if (!secretsAllowed && SECRET_SHAPE.test(value)) return { path, problem: 'contains something shaped like a Latchkey secret, which is never stored in plain text' };
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
