// Postgres and Redis connection URLs as the built-in rotators may use them, parsed here rather than
// by the drivers: a host name or IP address (no Unix socket), and no parameter that names another
// host (host=, hostaddr=, service=), makes a driver read a file (sslrootcert=, sslcert=, sslkey=,
// passfile=), or turns into a driver option (ioredis takes every query parameter as one).
import type { ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { OutboundRefused } from './address-rules';

export interface ServerTarget {
  host: string;
  port: number;
  /** TLS options (the server name kept for SNI and the certificate check), or false for none. */
  tls: ConnectionOptions | false;
}

export interface PostgresTarget extends ServerTarget {
  user: string;
  password: string;
  database: string;
  applicationName: string | undefined;
}

export interface RedisTarget extends ServerTarget {
  username: string | undefined;
  password: string | undefined;
  db: number;
}

const PG_PARAMS = new Set(['sslmode', 'ssl', 'application_name']);
const SSL_MODES = ['disable', 'prefer', 'require', 'no-verify', 'verify-ca', 'verify-full'] as const;
type SslMode = (typeof SSL_MODES)[number];

function parse(value: string, protocols: string[]): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OutboundRefused(`not a ${protocols[0]}// URL`);
  }
  if (!protocols.includes(url.protocol))
    throw new OutboundRefused(`only ${protocols.map((p) => `${p}//`).join(' and ')} URLs are allowed`);
  // An empty host or a percent-encoded path in its place (%2Fvar%2Frun%2Fpostgresql) is a socket.
  if (!url.hostname || /[%/]/.test(url.hostname))
    throw new OutboundRefused('Unix sockets are not allowed: the URL must name a host');
  return url;
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new OutboundRefused('the URL has a malformed percent-encoding');
  }
}

const host = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');
/** SNI and the certificate check name the host the URL names, though the connection goes to an address. */
const servername = (url: URL) => (isIP(host(url)) ? {} : { servername: host(url) });

function pgTls(url: URL, mode: SslMode | undefined): ConnectionOptions | false {
  switch (mode) {
    case undefined:
    case 'disable':
      return false;
    case 'verify-full':
      return { rejectUnauthorized: true, ...servername(url) };
    case 'verify-ca':
      return { rejectUnauthorized: true, ...servername(url), checkServerIdentity: () => undefined };
    default:
      return { rejectUnauthorized: false, ...servername(url) };
  }
}

export function parsePostgresUrl(value: string): PostgresTarget {
  const url = parse(value, ['postgres:', 'postgresql:']);
  for (const key of url.searchParams.keys()) {
    if (!PG_PARAMS.has(key))
      throw new OutboundRefused(
        `the URL may carry no parameter but sslmode, ssl and application_name${/^[a-z_]{1,32}$/.test(key) ? ` (not ${key}=)` : ''}`,
      );
  }
  const ssl = url.searchParams.get('ssl');
  const mode =
    url.searchParams.get('sslmode') ?? (ssl === null ? undefined : ['true', '1'].includes(ssl) ? 'require' : 'disable');
  if (mode !== undefined && !(SSL_MODES as readonly string[]).includes(mode))
    throw new OutboundRefused(`sslmode must be one of ${SSL_MODES.join(', ')}`);
  const user = decoded(url.username);
  if (!user) throw new OutboundRefused('the URL names no user');
  const database = decoded(url.pathname.replace(/^\//, '')) || user;
  if (database.includes('/')) throw new OutboundRefused('the URL names no database');
  return {
    host: host(url),
    port: Number(url.port || 5432),
    user,
    password: decoded(url.password),
    database,
    applicationName: url.searchParams.get('application_name') ?? undefined,
    tls: pgTls(url, mode as SslMode | undefined),
  };
}

export function parseRedisUrl(value: string): RedisTarget {
  const url = parse(value, ['redis:', 'rediss:']);
  if (url.search) throw new OutboundRefused('the URL may carry no parameters');
  const db = url.pathname.replace(/^\//, '');
  if (!/^\d{0,5}$/.test(db)) throw new OutboundRefused('the URL path must be a database number');
  return {
    host: host(url),
    port: Number(url.port || 6379),
    username: decoded(url.username) || undefined,
    password: decoded(url.password) || undefined,
    db: Number(db || 0),
    tls: url.protocol === 'rediss:' ? { rejectUnauthorized: true, ...servername(url) } : false,
  };
}

/**
 * The server a connection URL points at (`host:port`, lower case): a built-in rotator works only
 * where its privileged connection is, so a rewritten value cannot send a new password elsewhere.
 */
export function serverOf(kind: 'POSTGRES' | 'REDIS', value: string): string {
  const t = kind === 'POSTGRES' ? parsePostgresUrl(value) : parseRedisUrl(value);
  return `${t.host.toLowerCase()}:${t.port}`;
}
