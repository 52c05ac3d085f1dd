// How every HTTP door answers: JSON with its length, the request id on every answer (header, and
// error body), and a DomainError as its status with `{ error: { code, message, requestId } }`,
// WWW-Authenticate when the caller must authenticate, and Retry-After when it must wait.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type DomainError, ErrorCode, retryAfterOf } from '../platform/errors';

export const REALM = 'Bearer realm="latchkey"';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The caller's X-Request-Id when it is sane, else a new one: the same id is in the answer and the log. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    })
    .end(text);
}

/**
 * A refusal or failure as the door's answer. `challenge` replaces the plain one of a 401; `status`
 * the code's own where HTTP has a closer one (413 for a body too large is still BAD_USER_INPUT).
 */
export function sendError(
  res: ServerResponse,
  err: DomainError,
  requestId: string,
  headers: OutgoingHttpHeaders = {},
  status = err.httpStatus,
): void {
  const wait = retryAfterOf(err);
  const challenge = typeof err.details.challenge === 'string' ? err.details.challenge : REALM;
  sendJson(
    res,
    status,
    { error: { code: err.code, message: err.message, requestId, ...publicDetails(err) } },
    {
      'x-request-id': requestId,
      ...(err.code === ErrorCode.UNAUTHENTICATED ? { 'www-authenticate': challenge } : {}),
      ...(wait !== undefined ? { 'retry-after': String(wait) } : {}),
      ...headers,
    },
  );
}

/** Details a door may show beside the message (never the challenge, which goes in its header). */
function publicDetails(err: DomainError): Record<string, unknown> {
  const { challenge: _challenge, retryAfter, ...rest } = err.details;
  return { ...rest, ...(retryAfter !== undefined ? { retryAfter } : {}) };
}
