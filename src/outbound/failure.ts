// What a failed outbound call tells the tenant: a category, never the driver's or the remote
// system's own words, which tell which ports are open, which roles exist and which files exist.
import { DeadlineExceeded } from './deadline';
import { OutboundRefused } from './address-rules';

export type FailureCategory = 'refused by address rules' | 'authentication failed' | 'unreachable' | 'failed';

/** An outbound call's failure: its category as message; the original error as `cause`, for debug logs only. */
export class OutboundFailure extends Error {
  override name = 'OutboundFailure';
  constructor(
    readonly category: FailureCategory,
    options?: { cause?: unknown },
  ) {
    super(category, options);
  }
}

/** Postgres: invalid_password, invalid_authorization_specification (an unknown role says the same). */
const PG_AUTH = new Set(['28P01', '28000']);
const REDIS_AUTH = /^(WRONGPASS|NOAUTH)|^ERR AUTH|invalid (username-)?password/;
/** Errors of the link itself, whoever is at the other end. */
const LINK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/**
 * The category of `err`. Before the server accepted the connection (`connected` false) anything
 * but a refused login is "unreachable": a closed port, a silent listener and something that is
 * not the expected server read alike.
 */
export function categoryOf(err: unknown, connected: boolean): FailureCategory {
  if (err instanceof OutboundFailure) return err.category;
  if (err instanceof OutboundRefused) return 'refused by address rules';
  if (err instanceof DeadlineExceeded) return 'unreachable';
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : '';
  if (PG_AUTH.has(String(e?.code)) || message.startsWith('SASL') || REDIS_AUTH.test(message))
    return 'authentication failed';
  if (!connected || LINK.has(String(e?.code)) || /^Connection (terminated|is closed)/.test(message))
    return 'unreachable';
  return 'failed';
}

export const failure = (err: unknown, connected: boolean): OutboundFailure =>
  new OutboundFailure(categoryOf(err, connected), { cause: err });
