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
      loadConfig({ LATCHKEY_DATA_DIR: dataDir(), PORT: 'eighty', LATCHKEY_ROLE: 'boss', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', METRICS_LISTEN: '9464', METRICS_TOKEN: 'short' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const text = (e as Error).message;
      for (const name of ['PORT', 'LATCHKEY_ROLE', 'DATABASE_URL', 'LOG_LEVEL', 'METRICS_LISTEN', 'METRICS_TOKEN']) expect(text).toContain(name);
    }
  });

  it('refuses production without TOKEN_PEPPER and ENCRYPTION_KEY', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', LATCHKEY_DATA_DIR: dataDir() })).toThrow(/TOKEN_PEPPER is required[\s\S]*ENCRYPTION_KEY is required/);
  });

  it('refuses a short pepper and a key that is not 32 bytes', () => {
    expect(() => loadConfig({ TOKEN_PEPPER: 'short', LATCHKEY_DATA_DIR: dataDir() })).toThrow(/TOKEN_PEPPER/);
    expect(() => loadConfig({ ENCRYPTION_KEY: Buffer.alloc(16).toString('base64'), LATCHKEY_DATA_DIR: dataDir() })).toThrow(/ENCRYPTION_KEY/);
  });

  it('keeps a generated development pepper across starts, readable only by its owner', () => {
    const dir = dataDir();
    const a = loadConfig({ LATCHKEY_DATA_DIR: dir });
    const b = loadConfig({ LATCHKEY_DATA_DIR: dir });
    expect(a.tokenPepper.equals(b.tokenPepper)).toBe(true);
    expect(a.encryptionKey.equals(b.encryptionKey)).toBe(true);
    expect(statSync(join(dir, 'token-pepper')).mode & 0o777).toBe(0o600);
  });
});
