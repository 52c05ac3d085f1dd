// The one reader of process.env: reads every setting once, at start, through the table of
// settings.ts, checks what depends on several of them (secrets, the key ring) and builds the Config.
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { readSettings } from './settings';

export { USAGE_FLUSH_MS_DEFAULT } from './settings';

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

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  // WEBHOOK_TIMEOUT_MS, the former name of OUTBOUND_DEADLINE_MS (an idle timeout then), is still read.
  const s = readSettings(
    { ...env, OUTBOUND_DEADLINE_MS: env.OUTBOUND_DEADLINE_MS || env.WEBHOOK_TIMEOUT_MS },
    problems,
  );
  const dataDir = resolve(s.LATCHKEY_DATA_DIR);
  const inData = (p: string) => (isAbsolute(p) ? p : resolve(p));

  const production = s.NODE_ENV === 'production';
  let signingSeed: Buffer | undefined;
  if (s.AUDIT_SIGNING_KEY !== undefined) {
    signingSeed = Buffer.from(s.AUDIT_SIGNING_KEY, 'base64');
    if (signingSeed.length !== 32) problems.push('AUDIT_SIGNING_KEY must be a 32-byte Ed25519 seed, base64-encoded');
  }
  if (production && !s.TOKEN_PEPPER) problems.push('TOKEN_PEPPER is required when NODE_ENV=production');
  if (production && !s.ENCRYPTION_KEY && !s.ENCRYPTION_KEYS)
    problems.push('ENCRYPTION_KEYS (or ENCRYPTION_KEY) is required when NODE_ENV=production');
  if (production && !s.AUDIT_SIGNING_KEY)
    problems.push(
      'AUDIT_SIGNING_KEY is required when NODE_ENV=production (a 32-byte Ed25519 seed, base64: openssl rand -base64 32)',
    );
  if (s.TOKEN_PEPPER !== undefined && s.TOKEN_PEPPER.length < 32)
    problems.push('TOKEN_PEPPER must be at least 32 characters');
  if (s.METRICS_TOKEN !== undefined && s.METRICS_TOKEN.length < 16)
    problems.push('METRICS_TOKEN must be at least 16 characters');
  let encryptionKey: Buffer | undefined;
  if (s.ENCRYPTION_KEY) {
    encryptionKey = Buffer.from(s.ENCRYPTION_KEY, 'base64');
    if (encryptionKey.length !== 32) problems.push('ENCRYPTION_KEY must be 32 bytes, base64-encoded');
  }
  const ring = keyringEntries(s.ENCRYPTION_KEYS, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  // Development keeps generated secrets under the data directory, so tokens survive restarts.
  const tokenPepper = s.TOKEN_PEPPER ? Buffer.from(s.TOKEN_PEPPER, 'utf8') : devSecret(dataDir, 'token-pepper');
  if (ring.size === 0) encryptionKey ??= devSecret(dataDir, 'encryption-key');
  const keyring = buildKeyring(ring, encryptionKey, s.ENCRYPTION_ACTIVE_KEY);
  // The signing key is a secret of its own. Checkpoints signed before it existed were signed with a
  // key derived from the encryption key: that one still verifies them, and signs nothing.
  signingSeed ??= devSecret(dataDir, 'audit-signing-key');
  const derived = [...keyring.keys.values()].map((key) =>
    Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'latchkey audit checkpoint signing', 32)),
  );
  const retiredSeeds = derived.filter((seed) => !seed.equals(signingSeed!));
  return {
    nodeEnv: s.NODE_ENV,
    role: s.LATCHKEY_ROLE,
    databaseUrl: s.DATABASE_URL,
    redisUrl: s.REDIS_URL,
    redisPrefix: s.REDIS_PREFIX,
    host: s.HOST,
    port: s.PORT,
    dataDir,
    tokenPepper,
    keyring,
    bootstrapTokenFile: inData(s.BOOTSTRAP_TOKEN_FILE ?? join(dataDir, 'bootstrap-token')),
    bootstrapTenantName: s.BOOTSTRAP_TENANT_NAME,
    bootstrapTokenTtlS: s.BOOTSTRAP_TOKEN_TTL,
    logLevel: s.LOG_LEVEL,
    graphql: { maxDepth: s.GRAPHQL_MAX_DEPTH, maxAliases: s.GRAPHQL_MAX_ALIASES, maxCost: s.GRAPHQL_MAX_COST },
    verify: {
      cacheMaxEntries: s.VERIFY_CACHE_MAX_ENTRIES,
      cacheMaxBytes: s.VERIFY_CACHE_MAX_MB * 1024 * 1024,
      cacheTtlMs: s.VERIFY_CACHE_TTL_MS,
      changePollMs: s.VERIFY_CHANGE_POLL_MS,
      staleAfterMs: s.VERIFY_STALE_AFTER_MS,
      permissionsTtlMs: s.PERMISSIONS_CACHE_TTL_MS,
      negativeTtlMs: s.VERIFY_NEGATIVE_TTL_MS,
      negativeMaxEntries: s.VERIFY_NEGATIVE_MAX_ENTRIES,
      sharedTtlMs: s.VERIFY_SHARED_TTL_MS,
    },
    usageFlushMs: s.USAGE_FLUSH_MS,
    usageDailyFlushMs: s.USAGE_DAILY_FLUSH_MS,
    audit: {
      signingSeed,
      retiredSeeds,
      checkpointEvery: s.AUDIT_CHECKPOINT_EVERY,
      groupCommitMax: s.AUDIT_GROUP_COMMIT_MAX,
    },
    relay: { pollMs: s.RELAY_POLL_MS, lockTtlMs: s.RELAY_LOCK_TTL_MS },
    webhooks: {
      allow: s.WEBHOOK_ALLOW,
      attempts: s.WEBHOOK_ATTEMPTS,
      backoffMs: s.WEBHOOK_BACKOFF_MS,
      sweepAfterMs: s.WEBHOOK_SWEEP_AFTER_MS,
    },
    lifecycle: {
      tickMs: s.PLANNER_TICK_MS,
      horizonMs: s.PLANNER_HORIZON_MS,
      maxPerTick: s.PLANNER_MAX_PER_TICK,
      concurrency: s.LIFECYCLE_CONCURRENCY,
      batch: s.LIFECYCLE_BATCH,
    },
    rotators: {
      attempts: s.ROTATOR_ATTEMPTS,
      backoffMs: s.ROTATOR_BACKOFF_MS,
      timeoutMs: s.ROTATION_TIMEOUT_MS,
      allow: s.ROTATOR_ALLOW,
    },
    outbound: { deadlineMs: s.OUTBOUND_DEADLINE_MS, tenantSlots: s.OUTBOUND_TENANT_SLOTS },
    shutdownTimeoutMs: s.SHUTDOWN_TIMEOUT_MS,
    startupTimeoutMs: s.STARTUP_TIMEOUT_MS,
    metrics: { listen: s.METRICS_LISTEN, token: s.METRICS_TOKEN ?? null },
    trustedProxies: s.TRUSTED_PROXIES,
    authMisses: { perSecond: s.AUTH_MISSES_PER_SECOND, burst: s.AUTH_MISSES_BURST },
    revealRefusals: { burst: s.REVEAL_REFUSALS_BURST, perMinute: s.REVEAL_REFUSALS_PER_MINUTE },
  };
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** ENCRYPTION_KEYS: `id:base64,id:base64`, each a 32-byte key. */
function keyringEntries(raw: string | undefined, problems: string[]): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const entry of (raw ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const at = entry.indexOf(':');
    const id = entry.slice(0, at);
    const key = Buffer.from(entry.slice(at + 1), 'base64');
    if (at < 1 || !KEY_ID.test(id))
      problems.push(
        `ENCRYPTION_KEYS: each entry is id:base64-key, with an id of letters, digits, '.', '_' or '-' (got an entry of ${entry.length} characters)`,
      );
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
function buildKeyring(
  ring: Map<string, Buffer>,
  single: Buffer | undefined,
  active: string | undefined,
): KeyringConfig {
  const keys = new Map(ring);
  const singleId = single ? createHash('sha256').update(single).digest('hex').slice(0, 8) : undefined;
  if (single && singleId && !keys.has(singleId)) keys.set(singleId, single);
  const activeKeyId = active || ring.keys().next().value || singleId!;
  if (!keys.has(activeKeyId))
    throw new ConfigError([`ENCRYPTION_ACTIVE_KEY names key ${activeKeyId}, which ENCRYPTION_KEYS does not hold`]);
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
