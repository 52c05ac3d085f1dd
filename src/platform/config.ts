// The one reader of process.env: parses and validates every setting once, at start.
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { formatDuration, parseDuration } from './duration';

export type Role = 'all' | 'api' | 'worker';
export type NodeEnv = 'development' | 'production' | 'test';

export interface Config {
  nodeEnv: NodeEnv;
  role: Role;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  host: string;
  port: number;
  dataDir: string;
  tokenPepper: Buffer;
  /**
   * Key-encryption keys by id (ENCRYPTION_KEYS, plus ENCRYPTION_KEY under the id of its hash) and
   * the one that seals from now on. Every ciphertext records the id of the key that sealed it.
   */
  keyring: KeyringConfig;
  bootstrapTokenFile: string;
  bootstrapTenantName: string;
  /** How long the bootstrap admin token lives; start-up warns about platform admin tokens older than this. */
  bootstrapTokenTtlS: number;
  logLevel: string;
  graphql: { maxDepth: number; maxAliases: number; maxCost: number };
  verify: VerifyConfig;
  usageFlushMs: number;
  usageDailyFlushMs: number;
  /**
   * signingSeed signs checkpoints; retiredSeeds only verify the ones signed before (the key that
   * older versions derived from ENCRYPTION_KEY).
   */
  audit: { signingSeed: Buffer; retiredSeeds: Buffer[]; checkpointEvery: number; groupCommitMax: number };
  relay: { pollMs: number; lockTtlMs: number };
  webhooks: { allow: string[]; attempts: number; backoffMs: number; sweepAfterMs: number };
  /**
   * Every outbound connection (webhook deliveries, rotators): one deadline for the whole exchange,
   * and the most slots of a worker process's queue one tenant's calls may hold at once.
   */
  outbound: { deadlineMs: number; tenantSlots: number };
  lifecycle: LifecycleConfig;
  /**
   * Credential rotators: attempts of each step, the first retry's delay, how long a rotation may
   * run before it is abandoned, and the private hosts built-in rotators may reach (ROTATOR_ALLOW).
   */
  rotators: { attempts: number; backoffMs: number; timeoutMs: number; allow: string[] };
  shutdownTimeoutMs: number;
  /** How long start-up waits for Postgres and Redis to answer before it gives up. */
  startupTimeoutMs: number;
  /** Proxies whose X-Forwarded-For / X-Real-IP are believed on the doors clients reach directly. */
  trustedProxies: string[];
  /** Unknown or uncached credentials one client address may present per second (and in a burst) before 429. */
  authMisses: { perSecond: number; burst: number };
  /** Refused credential reads one token may cause in a burst, and per minute after, before 429. */
  revealRefusals: { burst: number; perMinute: number };
  /** Where /metrics is served: on the main listener (null), or only on a listener of its own; and the bearer token it takes, if any. */
  metrics: { listen: { host: string; port: number } | null; token: string | null };
}

export interface KeyringConfig {
  keys: ReadonlyMap<string, Buffer>;
  activeKeyId: string;
}

export interface VerifyConfig {
  /** In-process cache of verification records: entries, bytes, and how long an entry may live. */
  cacheMaxEntries: number;
  cacheMaxBytes: number;
  cacheTtlMs: number;
  /** Every replica polls Postgres for changed tokens this often... */
  changePollMs: number;
  /** ...and stops trusting its in-process cache when no poll has succeeded for this long. */
  staleAfterMs: number;
  /** Permissions of callers of Latchkey itself. */
  permissionsTtlMs: number;
  /** Unknown secrets are remembered briefly, in a bounded set. */
  negativeTtlMs: number;
  negativeMaxEntries: number;
  /** Redis layer shared by replicas. */
  sharedTtlMs: number;
}

export interface LifecycleConfig {
  /** The planner ticks this often, cluster-wide... */
  tickMs: number;
  /** ...and enqueues what falls due this far ahead: all Redis ever holds. */
  horizonMs: number;
  /** Most actions of one kind enqueued per tick, the earliest first. */
  maxPerTick: number;
  /** Jobs in progress per worker process and queue, and how many act in one transaction. */
  concurrency: number;
  batch: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * How often usage totals are written. A minute: at 15 s a gateway using 100,000 tokens evenly
 * rewrote most of them four times a minute, a second of Postgres CPU each time on the cores the
 * gateway needed (85% of the slow requests of a steady benchmark fell in those seconds).
 */
export const USAGE_FLUSH_MS_DEFAULT = 60_000;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string, fallback: string): string => {
    const v = env[name];
    return v === undefined || v === '' ? fallback : v;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const v = read(name, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      problems.push(`${name}=${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
      return fallback;
    }
    return v as T;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name, String(fallback));
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const url = (name: string, fallback: string, protocols: string[]): string => {
    const v = read(name, fallback);
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) throw new Error('protocol');
    } catch {
      problems.push(`${name} must be a ${protocols.join(' or ')}// URL`);
    }
    return v;
  };
  const duration = (name: string, fallback: string, min: number, max: number): number => {
    const raw = read(name, fallback);
    let s = -1;
    try {
      s = parseDuration(raw);
    } catch {
      // reported below
    }
    if (s < min || s > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an ISO 8601 duration from ${formatDuration(min)} to ${formatDuration(max)}`);
      return parseDuration(fallback);
    }
    return s;
  };
  const cidrList = (name: string): string[] => {
    const out: string[] = [];
    for (const entry of read(name, '').split(',').map((x) => x.trim()).filter(Boolean)) {
      const [address, bits, extra] = entry.split('/');
      const family = isIP(address ?? '');
      const max = family === 6 ? 128 : 32;
      if (!family || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > max))) {
        problems.push(`${name}: ${JSON.stringify(entry)} is not an IP address or network such as 10.0.0.0/8`);
      } else out.push(entry);
    }
    return out;
  };
  /** Hosts, IP addresses, networks, or a host or address with a port: db.internal, 10.0.0.0/8, 127.0.0.1:6380, [::1]:6380. */
  const allowList = (name: string): string[] => {
    const out: string[] = [];
    for (const entry of read(name, '').split(',').map((x) => x.trim()).filter(Boolean)) {
      const [address, bits, extra] = entry.split('/');
      const network = bits !== undefined && extra === undefined && isIP(address ?? '') && /^\d+$/.test(bits) && Number(bits) <= (isIP(address!) === 6 ? 128 : 32);
      const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/.exec(entry);
      const hostOrPort = m !== null && (m[1] === undefined || isIP(m[1]) === 6) && Number(m[3] ?? 0) <= 65535;
      if (isIP(entry) || network || hostOrPort) out.push(entry);
      else problems.push(`${name}: ${JSON.stringify(entry)} is not a host, an IP address, a network such as 10.0.0.0/8, or one of the first two with a port such as 127.0.0.1:6380`);
    }
    return out;
  };
  const hostPort = (name: string): { host: string; port: number } | null => {
    const v = read(name, '');
    if (!v) return null;
    const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v);
    const port = m ? Number(m[3]) : -1;
    if (!m || port > 65535) {
      problems.push(`${name}=${JSON.stringify(v)} must be HOST:PORT, for example 127.0.0.1:9464 or [::1]:9464`);
      return null;
    }
    return { host: m[1] ?? m[2]!, port };
  };

  const nodeEnv = oneOf<NodeEnv>('NODE_ENV', ['development', 'production', 'test'], 'development');
  const role = oneOf<Role>('LATCHKEY_ROLE', ['all', 'api', 'worker'], 'all');
  const databaseUrl = url('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/latchkey', ['postgres:', 'postgresql:']);
  const redisUrl = url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']);
  const redisPrefix = read('REDIS_PREFIX', 'latchkey');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(redisPrefix)) {
    problems.push('REDIS_PREFIX must be 1-64 characters of letters, digits, "_", "." or "-"');
  }
  const host = read('HOST', '127.0.0.1');
  const port = int('PORT', 4000, 0, 65535);
  const logLevel = read('LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(', ')}`);
  const dataDir = resolve(read('LATCHKEY_DATA_DIR', '.data'));
  const inData = (p: string) => (isAbsolute(p) ? p : resolve(p));

  const production = nodeEnv === 'production';
  const pepperRaw = env.TOKEN_PEPPER;
  const keyRaw = env.ENCRYPTION_KEY;
  const signingRaw = env.AUDIT_SIGNING_KEY;
  let signingSeed: Buffer | undefined;
  if (signingRaw !== undefined && signingRaw !== '') {
    signingSeed = Buffer.from(signingRaw, 'base64');
    if (signingSeed.length !== 32) problems.push('AUDIT_SIGNING_KEY must be a 32-byte Ed25519 seed, base64-encoded');
  }
  if (production && !pepperRaw) problems.push('TOKEN_PEPPER is required when NODE_ENV=production');
  if (production && !keyRaw && !env.ENCRYPTION_KEYS) problems.push('ENCRYPTION_KEYS (or ENCRYPTION_KEY) is required when NODE_ENV=production');
  if (production && !signingRaw) problems.push('AUDIT_SIGNING_KEY is required when NODE_ENV=production (a 32-byte Ed25519 seed, base64: openssl rand -base64 32)');
  if (pepperRaw !== undefined && pepperRaw.length < 32) problems.push('TOKEN_PEPPER must be at least 32 characters');
  let encryptionKey: Buffer | undefined;
  if (keyRaw) {
    encryptionKey = Buffer.from(keyRaw, 'base64');
    if (encryptionKey.length !== 32) problems.push('ENCRYPTION_KEY must be 32 bytes, base64-encoded');
  }
  const ring = keyringEntries(env.ENCRYPTION_KEYS, problems);

  const config = {
    nodeEnv,
    role,
    databaseUrl,
    redisUrl,
    redisPrefix,
    host,
    port,
    dataDir,
    bootstrapTokenFile: inData(read('BOOTSTRAP_TOKEN_FILE', join(dataDir, 'bootstrap-token'))),
    bootstrapTenantName: read('BOOTSTRAP_TENANT_NAME', 'default'),
    bootstrapTokenTtlS: duration('BOOTSTRAP_TOKEN_TTL', 'P1D', 60, 90 * 86_400),
    logLevel,
    graphql: {
      maxDepth: int('GRAPHQL_MAX_DEPTH', 8, 2, 64),
      maxAliases: int('GRAPHQL_MAX_ALIASES', 30, 1, 1000),
      maxCost: int('GRAPHQL_MAX_COST', 50_000, 10, 10_000_000),
    },
    verify: {
      cacheMaxEntries: int('VERIFY_CACHE_MAX_ENTRIES', 200_000, 1, 10_000_000),
      cacheMaxBytes: int('VERIFY_CACHE_MAX_MB', 96, 1, 8_192) * 1024 * 1024,
      cacheTtlMs: int('VERIFY_CACHE_TTL_MS', 600_000, 0, 3_600_000),
      changePollMs: int('VERIFY_CHANGE_POLL_MS', 1_000, 50, 10_000),
      staleAfterMs: int('VERIFY_STALE_AFTER_MS', 3_000, 100, 60_000),
      permissionsTtlMs: int('PERMISSIONS_CACHE_TTL_MS', 5_000, 0, 60_000),
      negativeTtlMs: int('VERIFY_NEGATIVE_TTL_MS', 2_000, 0, 60_000),
      negativeMaxEntries: int('VERIFY_NEGATIVE_MAX_ENTRIES', 50_000, 1, 1_000_000),
      sharedTtlMs: int('VERIFY_SHARED_TTL_MS', 60_000, 0, 3_600_000),
    },
    usageFlushMs: int('USAGE_FLUSH_MS', USAGE_FLUSH_MS_DEFAULT, 50, 600_000),
    usageDailyFlushMs: int('USAGE_DAILY_FLUSH_MS', 60_000, 50, 3_600_000),
    auditCheckpointEvery: int('AUDIT_CHECKPOINT_EVERY', 1_000, 1, 1_000_000),
    auditGroupCommitMax: int('AUDIT_GROUP_COMMIT_MAX', 1_000, 1, 10_000),
    relay: { pollMs: int('RELAY_POLL_MS', 500, 20, 60_000), lockTtlMs: int('RELAY_LOCK_TTL_MS', 5_000, 500, 120_000) },
    webhooks: {
      // Hosts or networks that deliveries may reach although they are private (for example a
      // receiver on the same host in tests); everything else private, loopback or link-local is refused.
      allow: allowList('WEBHOOK_ALLOW'),
      attempts: int('WEBHOOK_ATTEMPTS', 15, 1, 50),
      backoffMs: int('WEBHOOK_BACKOFF_MS', 5_000, 10, 3_600_000),
      sweepAfterMs: int('WEBHOOK_SWEEP_AFTER_MS', 60_000, 1_000, 3_600_000),
    },
    lifecycle: {
      tickMs: int('PLANNER_TICK_MS', 5_000, 100, 60_000),
      horizonMs: int('PLANNER_HORIZON_MS', 60_000, 1_000, 3_600_000),
      maxPerTick: int('PLANNER_MAX_PER_TICK', 5_000, 10, 1_000_000),
      concurrency: int('LIFECYCLE_CONCURRENCY', 200, 1, 1_000),
      batch: int('LIFECYCLE_BATCH', 200, 1, 1_000),
    },
    rotators: {
      attempts: int('ROTATOR_ATTEMPTS', 5, 1, 50),
      backoffMs: int('ROTATOR_BACKOFF_MS', 2_000, 10, 3_600_000),
      timeoutMs: int('ROTATION_TIMEOUT_MS', 3_600_000, 1_000, 7 * 86_400_000),
      // The same for built-in (Postgres, Redis) rotators; Latchkey's own Postgres and Redis never.
      allow: allowList('ROTATOR_ALLOW'),
    },
    outbound: {
      // WEBHOOK_TIMEOUT_MS, its former name (an idle timeout then), is still read.
      deadlineMs: int('OUTBOUND_DEADLINE_MS', Number(read('WEBHOOK_TIMEOUT_MS', '10000')) || 10_000, 100, 120_000),
      tenantSlots: int('OUTBOUND_TENANT_SLOTS', 4, 1, 1_000),
    },
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 120_000),
    startupTimeoutMs: int('STARTUP_TIMEOUT_MS', 30_000, 0, 600_000),
    metrics: { listen: hostPort('METRICS_LISTEN'), token: env.METRICS_TOKEN || null },
    trustedProxies: cidrList('TRUSTED_PROXIES'),
    authMisses: { perSecond: int('AUTH_MISSES_PER_SECOND', 10, 1, 100_000), burst: int('AUTH_MISSES_BURST', 50, 1, 1_000_000) },
    revealRefusals: { burst: int('REVEAL_REFUSALS_BURST', 10, 1, 10_000), perMinute: int('REVEAL_REFUSALS_PER_MINUTE', 10, 1, 60_000) },
  };
  if (config.metrics.token !== null && config.metrics.token.length < 16) problems.push('METRICS_TOKEN must be at least 16 characters');
  if (problems.length > 0) throw new ConfigError(problems);

  // Development keeps generated secrets under the data directory, so tokens survive restarts.
  const tokenPepper = pepperRaw ? Buffer.from(pepperRaw, 'utf8') : devSecret(dataDir, 'token-pepper');
  if (ring.size === 0) encryptionKey ??= devSecret(dataDir, 'encryption-key');
  const keyring = buildKeyring(ring, encryptionKey, env.ENCRYPTION_ACTIVE_KEY);
  // The signing key is a secret of its own. Checkpoints signed before it existed were signed with a
  // key derived from the encryption key: that one still verifies them, and signs nothing.
  signingSeed ??= devSecret(dataDir, 'audit-signing-key');
  const derived = [...keyring.keys.values()].map((key) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'latchkey audit checkpoint signing', 32)));
  const retiredSeeds = derived.filter((seed) => !seed.equals(signingSeed!));
  const { auditCheckpointEvery, auditGroupCommitMax, ...rest } = config;
  return { ...rest, tokenPepper, keyring, audit: { signingSeed, retiredSeeds, checkpointEvery: auditCheckpointEvery, groupCommitMax: auditGroupCommitMax } };
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** ENCRYPTION_KEYS: `id:base64,id:base64`, each a 32-byte key. */
function keyringEntries(raw: string | undefined, problems: string[]): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const entry of (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const at = entry.indexOf(':');
    const id = entry.slice(0, at);
    const key = Buffer.from(entry.slice(at + 1), 'base64');
    if (at < 1 || !KEY_ID.test(id)) problems.push(`ENCRYPTION_KEYS: each entry is id:base64-key, with an id of letters, digits, '.', '_' or '-' (got an entry of ${entry.length} characters)`);
    else if (key.length !== 32) problems.push(`ENCRYPTION_KEYS: key ${id} must be 32 bytes, base64-encoded`);
    else if (keys.has(id)) problems.push(`ENCRYPTION_KEYS: key id ${id} appears twice`);
    else keys.set(id, key);
  }
  return keys;
}

/**
 * The ring: ENCRYPTION_KEYS, plus a single ENCRYPTION_KEY under the id it has always had (the
 * first 8 hex digits of its SHA-256), so what it sealed still opens. The active key is
 * ENCRYPTION_ACTIVE_KEY, else the first of ENCRYPTION_KEYS, else ENCRYPTION_KEY.
 */
function buildKeyring(ring: Map<string, Buffer>, single: Buffer | undefined, active: string | undefined): KeyringConfig {
  const keys = new Map(ring);
  const singleId = single ? createHash('sha256').update(single).digest('hex').slice(0, 8) : undefined;
  if (single && singleId && !keys.has(singleId)) keys.set(singleId, single);
  const activeKeyId = active || ring.keys().next().value || singleId!;
  if (!keys.has(activeKeyId)) throw new ConfigError([`ENCRYPTION_ACTIVE_KEY names key ${activeKeyId}, which ENCRYPTION_KEYS does not hold`]);
  return { keys, activeKeyId };
}

function devSecret(dataDir: string, name: string): Buffer {
  const file = join(dataDir, name);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Write aside, then link into place: link fails if another process won the race, and
  // nobody ever reads a half-written file.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(tmp);
  }
  const value = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (value.length !== 32) {
    throw new ConfigError([`${file} does not hold 32 base64-encoded bytes; delete it to generate a new one`]);
  }
  return value;
}
