// Every setting Latchkey reads from the environment, in one table: its name, its default, what
// values it takes and what it means. loadConfig (config.ts) reads the environment through it, and
// docs/configuration.md is written from it (npm run schema), so the two cannot drift apart.
import { isIP } from 'node:net';
import { formatDuration, parseDuration } from './iso-duration';

/** Reads one setting's raw value (undefined or '' when unset), saying what is wrong in `problems`. */
interface Kind<T> {
  parse(raw: string | undefined, name: string, problems: string[]): T;
  /** The default as the documentation shows it. */
  shown: string;
}

export interface Setting<T = unknown> extends Kind<T> {
  doc: string;
}

const unset = (raw: string | undefined): raw is undefined => raw === undefined || raw === '';

function int(fallback: number, min: number, max: number): Kind<number> {
  return {
    shown: `\`${fallback}\``,
    parse(raw, name, problems) {
      if (unset(raw)) return fallback;
      if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
        problems.push(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
        return fallback;
      }
      return Number(raw);
    },
  };
}

function text(fallback: string, check?: (v: string) => string | null): Kind<string> {
  return {
    shown: fallback ? `\`${fallback}\`` : '(none)',
    parse(raw, name, problems) {
      const v = unset(raw) ? fallback : raw;
      const wrong = check?.(v);
      if (wrong) problems.push(`${name} ${wrong}`);
      return v;
    },
  };
}

/** A secret or an optional value: undefined when unset. */
function optional(shown: string): Kind<string | undefined> {
  return { shown, parse: (raw) => (unset(raw) ? undefined : raw) };
}

function oneOf<T extends string>(fallback: T, allowed: readonly T[]): Kind<T> {
  return text(fallback, (v) =>
    (allowed as readonly string[]).includes(v) ? null : `=${JSON.stringify(v)} is not one of ${allowed.join(', ')}`,
  ) as Kind<T>;
}

function url(fallback: string, protocols: string[]): Kind<string> {
  return text(fallback, (v) => {
    try {
      if (protocols.includes(new URL(v).protocol)) return null;
    } catch {
      // said below
    }
    return `must be a ${protocols.join(' or ')}// URL`;
  });
}

function duration(fallback: string, min: number, max: number): Kind<number> {
  return {
    shown: `\`${fallback}\``,
    parse(raw, name, problems) {
      if (unset(raw)) return parseDuration(fallback);
      let s = -1;
      try {
        s = parseDuration(raw);
      } catch {
        // said below
      }
      if (s >= min && s <= max) return s;
      problems.push(
        `${name}=${JSON.stringify(raw)} must be an ISO 8601 duration from ${formatDuration(min)} to ${formatDuration(max)}`,
      );
      return parseDuration(fallback);
    },
  };
}

const entries = (raw: string | undefined) =>
  (raw ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Comma-separated addresses or networks: 10.0.0.0/8, 127.0.0.1, ::1. */
function cidrs(): Kind<string[]> {
  return {
    shown: '(none)',
    parse(raw, name, problems) {
      return entries(raw).filter((entry) => {
        const [address, bits, extra] = entry.split('/');
        const family = isIP(address ?? '');
        const ok =
          !!family &&
          extra === undefined &&
          (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32)));
        if (!ok) problems.push(`${name}: ${JSON.stringify(entry)} is not an IP address or network such as 10.0.0.0/8`);
        return ok;
      });
    },
  };
}

/** Hosts, IP addresses, networks, or a host or address with a port: db.internal, 10.0.0.0/8, 127.0.0.1:6380, [::1]:6380. */
function allowList(): Kind<string[]> {
  return {
    shown: '(none)',
    parse(raw, name, problems) {
      return entries(raw).filter((entry) => {
        const [address, bits, extra] = entry.split('/');
        const network =
          bits !== undefined &&
          extra === undefined &&
          isIP(address ?? '') &&
          /^\d+$/.test(bits) &&
          Number(bits) <= (isIP(address!) === 6 ? 128 : 32);
        const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/.exec(entry);
        const hostOrPort = m !== null && (m[1] === undefined || isIP(m[1]) === 6) && Number(m[3] ?? 0) <= 65535;
        const ok = isIP(entry) !== 0 || network || hostOrPort;
        if (!ok)
          problems.push(
            `${name}: ${JSON.stringify(entry)} is not a host, an IP address, a network such as 10.0.0.0/8, or one of the first two with a port such as 127.0.0.1:6380`,
          );
        return ok;
      });
    },
  };
}

function hostPort(shown: string): Kind<{ host: string; port: number } | null> {
  return {
    shown,
    parse(raw, name, problems) {
      if (unset(raw)) return null;
      const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(raw);
      if (!m || Number(m[3]) > 65535) {
        problems.push(`${name}=${JSON.stringify(raw)} must be HOST:PORT, for example 127.0.0.1:9464 or [::1]:9464`);
        return null;
      }
      return { host: m[1] ?? m[2]!, port: Number(m[3]) };
    },
  };
}

const set = <T>(kind: Kind<T>, doc: string): Setting<T> => ({ ...kind, doc });

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * How often usage totals are written. A minute: at 15 s a gateway using 100,000 tokens evenly
 * rewrote most of them four times a minute, a second of Postgres CPU each time on the cores the
 * gateway needed (85% of the slow requests of a steady benchmark fell in those seconds).
 */
export const USAGE_FLUSH_MS_DEFAULT = 60_000;

/** The table, in the order docs/configuration.md lists it. */
export const SETTINGS = {
  DATABASE_URL: set(
    url('postgres://postgres@127.0.0.1:5432/latchkey', ['postgres:', 'postgresql:']),
    'created on start if it does not exist',
  ),
  REDIS_URL: set(url('redis://127.0.0.1:6379', ['redis:', 'rediss:']), 'queues, cache, pub/sub'),
  REDIS_PREFIX: set(
    text('latchkey', (v) =>
      /^[A-Za-z0-9_.-]{1,64}$/.test(v) ? null : 'must be 1-64 characters of letters, digits, "_", "." or "-"',
    ),
    'prefix of every Redis key and channel, so several instances can share one Redis',
  ),
  HOST: set(text('127.0.0.1'), 'address of the HTTP and WebSocket listener'),
  PORT: set(int(4000, 0, 65535), 'port of the HTTP and WebSocket listener (0: any free port)'),
  LATCHKEY_ROLE: set(
    oneOf('all', ['all', 'api', 'worker'] as const),
    '`api` (GraphQL, WebSocket, REST), `worker` (queues and the clock) or `all`',
  ),
  NODE_ENV: set(
    oneOf('development', ['development', 'production', 'test'] as const),
    '`production` turns off introspection, field suggestions and the landing page, and refuses to start without `TOKEN_PEPPER`, an encryption key and `AUDIT_SIGNING_KEY`',
  ),
  LOG_LEVEL: set(oneOf('info', LOG_LEVELS), 'pino level'),
  LATCHKEY_DATA_DIR: set(text('.data'), 'where development secrets and the bootstrap token are kept'),
  TOKEN_PEPPER: set(
    optional('development: generated once into `$LATCHKEY_DATA_DIR/token-pepper`'),
    'HMAC key for stored token hashes, at least 32 characters; required in production. Changing it invalidates every token',
  ),
  ENCRYPTION_KEYS: set(
    optional('(none)'),
    "the key ring: `id:base64,id:base64`, 32-byte keys; seals successor, webhook and rotator secrets and wraps each tenant's credential data key. The first (or `ENCRYPTION_ACTIVE_KEY`) seals; the others still open. Losing it loses every credential ([rotating it](credentials.md#rotating-the-key-encryption-key))",
  ),
  ENCRYPTION_ACTIVE_KEY: set(
    optional('the first of `ENCRYPTION_KEYS`'),
    'the id of the ring key that seals from now on',
  ),
  ENCRYPTION_KEY: set(
    optional('development: generated once into `$LATCHKEY_DATA_DIR/encryption-key`'),
    'a single 32-byte key, base64, kept in the ring under the first 8 hex digits of its SHA-256; `ENCRYPTION_KEYS` or this is required in production',
  ),
  AUDIT_SIGNING_KEY: set(
    optional('development: generated once into `$LATCHKEY_DATA_DIR/audit-signing-key`'),
    '32-byte Ed25519 seed, base64, that signs audit checkpoints; required in production. Checkpoints signed before it was set (with a key derived from `ENCRYPTION_KEY`) still verify: that key is listed as retired in `/v1/audit/keys`',
  ),
  BOOTSTRAP_TOKEN_FILE: set(
    optional('`$LATCHKEY_DATA_DIR/bootstrap-token`'),
    'where the first admin token is written, mode 0600, on an empty database',
  ),
  BOOTSTRAP_TENANT_NAME: set(text('default'), 'name of the first tenant'),
  BOOTSTRAP_TOKEN_TTL: set(
    duration('P1D', 60, 90 * 86_400),
    'life of the bootstrap admin token (PT1M to P90D); start-up warns about any platform admin token live longer',
  ),
  GRAPHQL_MAX_DEPTH: set(int(8, 2, 64), 'deepest operation'),
  GRAPHQL_MAX_ALIASES: set(int(30, 1, 1000), 'most aliases in one operation'),
  GRAPHQL_MAX_COST: set(
    int(50_000, 10, 10_000_000),
    'largest estimated cost of one operation: fields, multiplied by the page size of enclosing connections and by the most items each enclosing list can hold ([decision 0009](decisions/0009-lists-priced-by-their-bound.md))',
  ),
  SHUTDOWN_TIMEOUT_MS: set(
    int(10_000, 100, 120_000),
    'SIGTERM drains HTTP and closes pools; past this the process exits anyway',
  ),
  STARTUP_TIMEOUT_MS: set(
    int(30_000, 0, 600_000),
    'how long start-up retries Postgres and Redis (from 250 ms, doubling to 5 s, each failure logged with the setting to check) before it exits naming `DATABASE_URL` or `REDIS_URL`',
  ),
  VERIFY_CACHE_MAX_ENTRIES: set(int(200_000, 1, 10_000_000), 'most entries of the in-process verification cache'),
  VERIFY_CACHE_MAX_MB: set(int(96, 1, 8_192), 'most memory of the in-process verification cache'),
  VERIFY_CACHE_TTL_MS: set(
    int(600_000, 0, 3_600_000),
    'longest life of an in-process entry without a re-read; entries in use are read again, in batches, between half and nine tenths of it (invalidation and polling end entries sooner)',
  ),
  VERIFY_CHANGE_POLL_MS: set(int(1_000, 50, 10_000), 'every replica polls Postgres for changed tokens this often'),
  VERIFY_STALE_AFTER_MS: set(
    int(3_000, 100, 60_000),
    'a replica whose polls have failed this long bypasses its in-process cache',
  ),
  VERIFY_SHARED_TTL_MS: set(int(60_000, 0, 3_600_000), 'life of Redis entries'),
  VERIFY_NEGATIVE_TTL_MS: set(int(2_000, 0, 60_000), 'life of remembered "no such token" answers'),
  VERIFY_NEGATIVE_MAX_ENTRIES: set(int(50_000, 1, 1_000_000), 'most remembered "no such token" answers'),
  PERMISSIONS_CACHE_TTL_MS: set(
    int(5_000, 0, 60_000),
    "how long a caller's permissions are cached (role changes also invalidate at once); a busy caller's are reloaded in the background once half of it has passed",
  ),
  USAGE_FLUSH_MS: set(
    int(USAGE_FLUSH_MS_DEFAULT, 50, 600_000),
    'usage counters are written at most once per token per interval, so `lastUsedAt` and `usageCount` lag by up to this much',
  ),
  USAGE_DAILY_FLUSH_MS: set(
    int(60_000, 50, 3_600_000),
    'the per-day counts behind `usage(from, to)` are written this often (a whole number of flushes); SIGTERM writes them all',
  ),
  AUDIT_CHECKPOINT_EVERY: set(int(1_000, 1, 1_000_000), 'a signed checkpoint every this many events per tenant'),
  AUDIT_GROUP_COMMIT_MAX: set(
    int(1_000, 1, 10_000),
    'most audit events committed together in one group (credential reveals); 1 gives every event a transaction of its own',
  ),
  RELAY_POLL_MS: set(int(500, 20, 60_000), "the event relay's fallback poll"),
  RELAY_LOCK_TTL_MS: set(int(5_000, 500, 120_000), "the event relay's leader lock"),
  WEBHOOK_ALLOW: set(
    allowList(),
    "comma-separated hosts, IP addresses, networks (`10.0.0.0/8`) or either with a port (`127.0.0.1:8080`, `[::1]:8080`, `hooks.internal:8443`) that webhook deliveries and webhook rotators may reach although private, loopback or link-local. Cloud metadata endpoints and Latchkey's own Postgres and Redis are refused whatever it says",
  ),
  ROTATOR_ALLOW: set(
    allowList(),
    'the same, for the built-in Postgres and Redis rotators (their privileged connection and the rotated value), e.g. `10.0.5.7:5432,cache.internal:6379` ([where rotators may connect](credentials.md#where-rotators-may-connect))',
  ),
  OUTBOUND_DEADLINE_MS: set(
    int(10_000, 100, 120_000),
    "one deadline for the whole of every outbound call (resolving, connecting, the answer's headers and body): a webhook delivery, a webhook rotator's call, a Postgres or Redis rotator's step. `WEBHOOK_TIMEOUT_MS`, its former name, is still read",
  ),
  OUTBOUND_TENANT_SLOTS: set(
    int(4, 1, 1_000),
    "most of a worker process's slots one tenant's outbound calls hold at once, per queue (16 for deliveries, 8 for rotation steps); its other jobs wait their turn without spending an attempt",
  ),
  WEBHOOK_ATTEMPTS: set(int(15, 1, 50), 'attempts of a delivery; with the backoff, about a day'),
  WEBHOOK_BACKOFF_MS: set(
    int(5_000, 10, 3_600_000),
    'delay before a failed delivery is tried again; doubles with each attempt',
  ),
  WEBHOOK_SWEEP_AFTER_MS: set(
    int(60_000, 1_000, 3_600_000),
    'a pending delivery this late for its next attempt is queued again (its job was lost with Redis)',
  ),
  ROTATOR_ATTEMPTS: set(
    int(5, 1, 50),
    'attempts of each step of a credential rotation before the rotation fails (CURRENT untouched)',
  ),
  ROTATOR_BACKOFF_MS: set(
    int(2_000, 10, 3_600_000),
    'delay before a failed step is tried again; doubles with each attempt',
  ),
  ROTATION_TIMEOUT_MS: set(
    int(3_600_000, 1_000, 7 * 86_400_000),
    'a rotation still running this long after it started is abandoned, its PENDING value destroyed',
  ),
  PLANNER_TICK_MS: set(
    int(5_000, 100, 60_000),
    'the clock ticks this often, cluster-wide (the planner, the credentials, rotations and webhook sweeps)',
  ),
  PLANNER_HORIZON_MS: set(int(60_000, 1_000, 3_600_000), 'how far of the future the planner puts into Redis'),
  PLANNER_MAX_PER_TICK: set(int(5_000, 10, 1_000_000), 'most actions of one kind a tick enqueues, earliest first'),
  LIFECYCLE_CONCURRENCY: set(int(200, 1, 1_000), 'jobs in progress per worker process and queue'),
  LIFECYCLE_BATCH: set(int(200, 1, 1_000), 'actions per transaction'),
  METRICS_LISTEN: set(
    hostPort('(none: `/metrics` on the main listener)'),
    '`HOST:PORT` of a listener that serves `/metrics` alone (e.g. `127.0.0.1:9464`); the main listener then answers 404 there',
  ),
  METRICS_TOKEN: set(optional('(none)'), 'bearer token, at least 16 characters, that `/metrics` requires'),
  TRUSTED_PROXIES: set(
    cidrs(),
    "comma-separated addresses or CIDRs of reverse proxies in front of Latchkey whose `X-Forwarded-For` / `X-Real-IP` are believed (GraphQL, WebSocket, audit export, successor pickup); nobody else's are",
  ),
  AUTH_MISSES_PER_SECOND: set(
    int(10, 1, 100_000),
    'credentials found not to exist that one client address may present to the unauthenticated doors per second, after its burst, before they answer 429 without a lookup (valid tokens never spend it)',
  ),
  AUTH_MISSES_BURST: set(
    int(50, 1, 1_000_000),
    'the same, at once; a WebSocket connect refused so closes with 4429 and the wait',
  ),
  REVEAL_REFUSALS_BURST: set(
    int(10, 1, 10_000),
    'refused credential reads (no grant, or no such name) one token may cause before they answer 429 with `Retry-After`; audited once per token per minute, the repeats in one event with their count',
  ),
  REVEAL_REFUSALS_PER_MINUTE: set(int(10, 1, 60_000), 'the same, per minute after the burst'),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type SettingValues = { [K in SettingName]: ReturnType<(typeof SETTINGS)[K]['parse']> };

/** Every setting read from `env`; what is wrong is said in `problems` (each value then falls back to its default). */
export function readSettings(env: Record<string, string | undefined>, problems: string[]): SettingValues {
  const values: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SETTINGS)) values[name] = (s as Setting).parse(env[name], name, problems);
  return values as SettingValues;
}

/** docs/configuration.md, as the table says it. */
export function configurationDoc(): string {
  const rows = Object.entries(SETTINGS).map(([name, s]) => `| \`${name}\` | ${s.shown} | ${s.doc} |`);
  return [
    '# Configuration',
    '',
    'Everything is read from the environment once, at start; a wrong value stops the process with a',
    'message naming the variable. The README lists the settings most installations set; this is all of',
    'them. (Written from `src/platform/settings.ts` by `npm run schema`; a test fails when it is stale.)',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
