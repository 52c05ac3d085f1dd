import { describe, expect, it } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  generateToken,
  hashToken,
  isWellFormed,
  keyedHasher,
  TOKEN_LENGTH,
  tokenHint,
} from '../../src/tokens/token-format';

describe('token format', () => {
  it('generates lk_ + 49 base62 characters with a valid checksum', () => {
    for (let i = 0; i < 200; i++) {
      const t = generateToken();
      expect(t).toMatch(/^lk_[0-9A-Za-z]{49}$/);
      expect(t).toHaveLength(TOKEN_LENGTH);
      expect(isWellFormed(t)).toBe(true);
    }
  });

  it('checksums as the contract says: base62 of the CRC32 of the 43 body characters', () => {
    // Computed independently (Python zlib.crc32, base62, zero-padded to 6).
    expect(isWellFormed('lk_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg37cCQ0')).toBe(true);
    expect(isWellFormed('lk_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg37cCQ1')).toBe(false);
  });

  it('checksums every generated token with the CRC32 zlib computes', () => {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    const base62 = (v: number) =>
      Array.from({ length: 6 }, (_, i) => alphabet[Math.floor(v / 62 ** (5 - i)) % 62]).join('');
    for (let i = 0; i < 2_000; i++) {
      const t = generateToken();
      expect(t.slice(-6)).toBe(base62(crc32(t.slice(3, -6))));
    }
  });

  it('never repeats', () => {
    const seen = new Set(Array.from({ length: 10_000 }, generateToken));
    expect(seen.size).toBe(10_000);
  });

  it('rejects any single changed character through the checksum', () => {
    const t = generateToken();
    for (let i = 3; i < t.length; i++) {
      const c = t[i] === 'a' ? 'b' : 'a';
      expect(isWellFormed(t.slice(0, i) + c + t.slice(i + 1))).toBe(false);
    }
  });

  it('rejects wrong prefix, length and alphabet', () => {
    const t = generateToken();
    expect(isWellFormed(`lx_${t.slice(3)}`)).toBe(false);
    expect(isWellFormed(t.slice(0, -1))).toBe(false);
    expect(isWellFormed(`${t}0`)).toBe(false);
    expect(isWellFormed(`${t.slice(0, 10)}-${t.slice(11)}`)).toBe(false);
    expect(isWellFormed('')).toBe(false);
  });

  it('hints show the prefix and last four characters only', () => {
    const t = generateToken();
    expect(tokenHint(t)).toBe(`lk_…${t.slice(-4)}`);
  });

  it('hashes with the pepper: same input same hash, another pepper another hash', () => {
    const t = generateToken();
    const a = hashToken(Buffer.from('pepper-a'), t);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(Buffer.from('pepper-a'), t)).toBe(a);
    expect(hashToken(Buffer.from('pepper-b'), t)).not.toBe(a);
  });

  it("the verification path's keyed hasher is HMAC-SHA256, for any pepper length and input", () => {
    const inputs = [
      '',
      generateToken(),
      generateToken(),
      'lk_not-a-token',
      'ü€😀 non-ASCII',
      'x'.repeat(341),
      'x'.repeat(342),
      'é'.repeat(400),
      randomBytes(700).toString('latin1'),
    ];
    for (const length of [0, 1, 32, 63, 64, 65, 100]) {
      const pepper = randomBytes(length);
      const keyed = keyedHasher(pepper);
      for (const input of inputs) {
        const reference = createHmac('sha256', pepper).update(input).digest('hex');
        expect(keyed(input)).toBe(reference);
        expect(hashToken(pepper, input)).toBe(reference);
      }
      // Buffers are reused between calls: a short input after a long one hashes only itself.
      expect(keyed('a')).toBe(createHmac('sha256', pepper).update('a').digest('hex'));
    }
  });
});
