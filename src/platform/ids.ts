// Identifiers: UUIDv7 (time-ordered, so keyset pagination by id is creation order) and
// opaque cursors over them.
import { randomBytes } from 'node:crypto';
import { badInput } from './errors';

export function uuidv7(now = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Validates an id argument; a malformed id is bad input, not a missing row. */
export function requireId(value: string, what = 'id'): string {
  if (!isUuid(value)) throw badInput(`${what} ${JSON.stringify(value)} is not a valid ID`, { argument: what });
  return value.toLowerCase();
}

const CURSOR_PREFIX = 'c1:';

export function encodeCursor(key: string | number): string {
  return Buffer.from(`${CURSOR_PREFIX}${key}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!raw.startsWith(CURSOR_PREFIX) || raw.length === CURSOR_PREFIX.length) {
    // Not echoed in full: a cursor is the caller's to send, and may be anything.
    const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}…` : cursor;
    throw badInput(`cursor ${JSON.stringify(shown)} is not valid`, { argument: 'after' });
  }
  return raw.slice(CURSOR_PREFIX.length);
}
