import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/platform/config';

const dataDir = () => mkdtempSync(join(tmpdir(), 'lk-config-'));

describe('configuration', () => {
  it('applies the contract defaults', () => {
    const c = loadConfig({ LATCHKEY_DATA_DIR: dataDir() });
    expect(c).toMatchObject({
      nodeEnv: 'development',
      role: 'all',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/latchkey',
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'latchkey',
      host: '127.0.0.1',
      port: 4000,
      logLevel: 'info',
    });
  });

  it('names every wrong variable', () => {
    try {
      loadConfig({
        LATCHKEY_DATA_DIR: dataDir(),
        PORT: 'eighty',
        LATCHKEY_ROLE: 'boss',
        DATABASE_URL: 'mysql://x',
        LOG_LEVEL: 'loud',
        METRICS_LISTEN: '9464',
        METRICS_TOKEN: 'short',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const text = (e as Error).message;
      for (const name of ['PORT', 'LATCHKEY_ROLE', 'DATABASE_URL', 'LOG_LEVEL', 'METRICS_LISTEN', 'METRICS_TOKEN'])
        expect(text).toContain(name);
    }
  });

  it('refuses production without TOKEN_PEPPER and ENCRYPTION_KEY', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', LATCHKEY_DATA_DIR: dataDir() })).toThrow(
      /TOKEN_PEPPER is required[\s\S]*ENCRYPTION_KEYS \(or ENCRYPTION_KEY\) is required/,
    );
  });

  it('refuses a short pepper and a key that is not 32 bytes', () => {
    expect(() => loadConfig({ TOKEN_PEPPER: 'short', LATCHKEY_DATA_DIR: dataDir() })).toThrow(/TOKEN_PEPPER/);
    expect(() =>
      loadConfig({ ENCRYPTION_KEY: Buffer.alloc(16).toString('base64'), LATCHKEY_DATA_DIR: dataDir() }),
    ).toThrow(/ENCRYPTION_KEY/);
  });

  it('keeps a generated development pepper across starts, readable only by its owner', () => {
    const dir = dataDir();
    const a = loadConfig({ LATCHKEY_DATA_DIR: dir });
    const b = loadConfig({ LATCHKEY_DATA_DIR: dir });
    expect(a.tokenPepper.equals(b.tokenPepper)).toBe(true);
    expect(a.keyring.activeKeyId).toBe(b.keyring.activeKeyId);
    expect(a.keyring.keys.get(a.keyring.activeKeyId)!.equals(b.keyring.keys.get(b.keyring.activeKeyId)!)).toBe(true);
    expect(statSync(join(dir, 'token-pepper')).mode & 0o777).toBe(0o600);
  });

  describe('the key ring', () => {
    const key = (n: number) => Buffer.alloc(32, n).toString('base64');

    it('takes ENCRYPTION_KEYS by id, the first active unless ENCRYPTION_ACTIVE_KEY says otherwise', () => {
      const a = loadConfig({ ENCRYPTION_KEYS: `k2:${key(2)}, k1:${key(1)}`, LATCHKEY_DATA_DIR: dataDir() });
      expect([...a.keyring.keys.keys()]).toEqual(['k2', 'k1']);
      expect(a.keyring.activeKeyId).toBe('k2');
      const b = loadConfig({
        ENCRYPTION_KEYS: `k2:${key(2)},k1:${key(1)}`,
        ENCRYPTION_ACTIVE_KEY: 'k1',
        LATCHKEY_DATA_DIR: dataDir(),
      });
      expect(b.keyring.activeKeyId).toBe('k1');
      expect(b.keyring.keys.get('k1')!.equals(Buffer.alloc(32, 1))).toBe(true);
    });

    it('keeps a single ENCRYPTION_KEY under the id it always had, beside the ring', () => {
      const single = loadConfig({ ENCRYPTION_KEY: key(7), LATCHKEY_DATA_DIR: dataDir() });
      const legacyId = single.keyring.activeKeyId;
      expect(legacyId).toMatch(/^[0-9a-f]{8}$/);
      const both = loadConfig({
        ENCRYPTION_KEY: key(7),
        ENCRYPTION_KEYS: `new:${key(8)}`,
        LATCHKEY_DATA_DIR: dataDir(),
      });
      expect(both.keyring.activeKeyId).toBe('new');
      expect(both.keyring.keys.get(legacyId)!.equals(Buffer.alloc(32, 7))).toBe(true);
    });

    it('names what is wrong with a ring entry, and an active key the ring does not hold', () => {
      const dir = dataDir();
      expect(() =>
        loadConfig({ ENCRYPTION_KEYS: `k1:${Buffer.alloc(16).toString('base64')}`, LATCHKEY_DATA_DIR: dir }),
      ).toThrow(/key k1 must be 32 bytes/);
      expect(() => loadConfig({ ENCRYPTION_KEYS: key(1), LATCHKEY_DATA_DIR: dir })).toThrow(
        /each entry is id:base64-key/,
      );
      expect(() => loadConfig({ ENCRYPTION_KEYS: `k1:${key(1)},k1:${key(2)}`, LATCHKEY_DATA_DIR: dir })).toThrow(
        /k1 appears twice/,
      );
      expect(() =>
        loadConfig({ ENCRYPTION_KEYS: `k1:${key(1)}`, ENCRYPTION_ACTIVE_KEY: 'k9', LATCHKEY_DATA_DIR: dir }),
      ).toThrow(/names key k9, which ENCRYPTION_KEYS does not hold/);
    });

    it('never prints a key in its errors', () => {
      try {
        loadConfig({ ENCRYPTION_KEYS: `${key(3)},k2:${key(3).slice(4)}`, LATCHKEY_DATA_DIR: dataDir() });
      } catch (err) {
        expect(String(err)).toMatch(/id:base64-key[\s\S]*key k2 must be 32 bytes/);
        expect(String(err)).not.toContain(key(3).slice(4, 24));
        return;
      }
      throw new Error('expected a ConfigError');
    });
  });
});

describe('outbound configuration', () => {
  it('reads ROTATOR_ALLOW entries, the deadline (WEBHOOK_TIMEOUT_MS being its former name) and the share, naming a bad entry', () => {
    const c = loadConfig({
      LATCHKEY_DATA_DIR: '/tmp/lk-outbound-config',
      ROTATOR_ALLOW: 'db.internal:5432, 10.0.0.0/8,[::1]:6380,127.0.0.1',
    });
    expect(c.rotators.allow).toEqual(['db.internal:5432', '10.0.0.0/8', '[::1]:6380', '127.0.0.1']);
    expect(c.outbound).toEqual({ deadlineMs: 10_000, tenantSlots: 4 });
    expect(
      loadConfig({ LATCHKEY_DATA_DIR: '/tmp/lk-outbound-config', WEBHOOK_TIMEOUT_MS: '2500' }).outbound.deadlineMs,
    ).toBe(2_500);
    expect(() =>
      loadConfig({ LATCHKEY_DATA_DIR: '/tmp/lk-outbound-config', ROTATOR_ALLOW: '10.0.0.0/33,db:99999' }),
    ).toThrow(/ROTATOR_ALLOW: "10.0.0.0\/33"[\s\S]*ROTATOR_ALLOW: "db:99999"/);
  });
});
