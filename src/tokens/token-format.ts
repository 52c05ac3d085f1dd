// The token format: lk_ + 43 base62 characters (32 CSPRNG bytes) + 6 base62 characters (CRC32
// of the 43). The checksum lets verification reject garbage before touching any store, and
// lets secret scanners recognise a leaked token.
import { createHmac, hash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PREFIX = 'lk_';
const BODY_LENGTH = 43;
const CHECK_LENGTH = 6;
export const TOKEN_LENGTH = PREFIX.length + BODY_LENGTH + CHECK_LENGTH;

function base62(value: bigint, width: number): string {
  let out = '';
  for (let v = value; v > 0n; v /= 62n) out = ALPHABET[Number(v % 62n)] + out;
  return out.padStart(width, '0');
}

const DIGITS = new Int8Array(128).fill(-1); // base62 value of an ASCII character, -1 for others
for (let i = 0; i < ALPHABET.length; i++) DIGITS[ALPHABET.charCodeAt(i)] = i;

/** The base62 value of a character code, -1 when it is not in the alphabet. */
const digit = (code: number): number => (code < 128 ? DIGITS[code]! : -1);

const CRC_TABLE = new Int32Array(256); // CRC-32 (IEEE 802.3, as zlib), one byte at a time
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/**
 * CRC-32 of the token body at `from`, or -1 when a character is not base62. The body is ASCII, so
 * its characters are its bytes; computed here rather than with zlib's crc32, which first encodes
 * the string (this runs twice on every gateway request).
 */
function bodyCrc(text: string, from: number): number {
  let crc = -1;
  for (let i = from; i < from + BODY_LENGTH; i++) {
    const c = text.charCodeAt(i);
    if (digit(c) < 0) return -1;
    crc = CRC_TABLE[(crc ^ c) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ -1) >>> 0;
}

// CRC32 fits a double exactly, so the checksum needs no BigInt.
function checksum(body: string): string {
  let v = bodyCrc(body, 0);
  let out = '';
  for (let i = 0; i < CHECK_LENGTH; i++) {
    out = ALPHABET[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

/** A new random token. The only place a plaintext secret is created. */
export function generateToken(): string {
  const body = base62(BigInt(`0x${randomBytes(32).toString('hex')}`), BODY_LENGTH);
  return PREFIX + body + checksum(body);
}

/** Format and checksum, with no I/O: garbage stops here. */
export function isWellFormed(token: string): boolean {
  if (typeof token !== 'string' || token.length !== TOKEN_LENGTH || !token.startsWith(PREFIX)) return false;
  const crc = bodyCrc(token, PREFIX.length);
  if (crc < 0) return false;
  // The checksum's six digits read as a number: below 62^6, so equal to the CRC only if every digit is.
  let check = 0;
  for (let i = PREFIX.length + BODY_LENGTH; i < TOKEN_LENGTH; i++) {
    const d = digit(token.charCodeAt(i));
    if (d < 0) return false;
    check = check * 62 + d;
  }
  return check === crc;
}

/** What may be shown of a secret: prefix and last four characters. */
export function tokenHint(token: string): string {
  return `${PREFIX}…${token.slice(-4)}`;
}

/** The keyed hash that is stored and looked up instead of the secret: HMAC-SHA256, hex. */
export function hashToken(pepper: Buffer, token: string): string {
  return createHmac('sha256', pepper).update(token).digest('hex');
}

const BLOCK = 64; // SHA-256's block size
const INPUT_ROOM = 1024;

/**
 * hashToken for one pepper, for the verification path: the same HMAC-SHA256 (RFC 2104) computed
 * with two one-shot crypto.hash calls on buffers prepared once. Each createHmac() is a native
 * object that every young-generation GC has to finalise; at tens of thousands of verifications a
 * second those finalisers made each GC pause milliseconds longer. Inputs too long for the buffer
 * (never a well-formed token) take createHmac.
 */
export function keyedHasher(pepper: Buffer): (token: string) => string {
  const key = Buffer.alloc(BLOCK);
  (pepper.length > BLOCK ? hash('sha256', pepper, 'buffer') : pepper).copy(key);
  const inner = Buffer.alloc(BLOCK + INPUT_ROOM);
  const outer = Buffer.alloc(BLOCK + 32);
  for (let i = 0; i < BLOCK; i++) {
    inner[i] = key[i]! ^ 0x36;
    outer[i] = key[i]! ^ 0x5c;
  }
  return (token) => {
    if (token.length * 3 > INPUT_ROOM) return hashToken(pepper, token);
    const n = inner.write(token, BLOCK, 'utf8');
    // The inner digest travels as base64, not as a Buffer: a Buffer result is a new native
    // allocation on every call, which made the whole hash twice as slow.
    outer.write(hash('sha256', inner.subarray(0, BLOCK + n), 'base64'), BLOCK, 'base64');
    return hash('sha256', outer, 'hex');
  };
}
