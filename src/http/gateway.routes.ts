// The gateway path over plain node:http, ahead of Express: POST /v1/verify, forward-auth at
// /v1/authz (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth) and RFC 7662
// introspection at /oauth2/introspect. These run on every request a gateway sees, so they parse
// only what they need and write nothing on the response's path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Permission } from '../iam/permissions';
import { type Principal, requirePermission } from '../iam/principal';
import { badInput, DomainError, ErrorCode } from '../platform/errors';
import { isScopeName } from '../scopes/scope-name';
import { bearer } from '../platform/http';
import { andThen, type MaybePromise } from '../platform/maybe-promise';
import { REALM, requestIdOf, sendError, sendJson } from './answer';
import { type SecretRecord, validUntil } from '../verify/verdict';
import type { Verifier } from '../verify/verifier';
import { VerifyFailure, type VerifyResult } from '../verify/verify.types';

const BODY_LIMIT = 64 * 1024;
const BODY_DISCARD_LIMIT = 16 * BODY_LIMIT;

type Handler = (req: IncomingMessage, res: ServerResponse, query: string) => MaybePromise<void>;

/** Reads the body, then continues with `next` in the same turn as the request's last chunk. */
function withBody(req: IncomingMessage, next: (body: string) => MaybePromise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    // Bytes, decoded once at the end: a character split across chunks decodes whole, and a
    // gateway's body (one chunk) needs no decoder of its own.
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= BODY_LIMIT) chunks.push(c);
      else if (size - c.length <= BODY_LIMIT) {
        // Answered with a 400 at once; the rest is read and dropped so that the client sees the
        // answer rather than a reset connection. A body that goes on and on is cut off.
        chunks.length = 0;
        reject(new DomainError(ErrorCode.BAD_USER_INPUT, 'the request body is larger than 64 KiB'));
      } else if (size > BODY_DISCARD_LIMIT) req.destroy();
    });
    req.on('end', () => {
      if (size > BODY_LIMIT) return;
      try {
        const r = next((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8'));
        if (r instanceof Promise) r.then(resolve, reject);
        else resolve();
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** The end user's address as the proxy saw it: X-Real-IP, else the last X-Forwarded-For hop. */
function forwardedIp(req: IncomingMessage): string | null {
  const real = header(req, 'x-real-ip')?.trim();
  if (real) return real;
  const hops = header(req, 'x-forwarded-for')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return hops?.at(-1) ?? null;
}

/** The value a route declares when any valid token of the tenant may pass, whatever its scopes. */
export const ANY_VALID_TOKEN = 'any';

/**
 * The scopes the route needs, from X-Latchkey-Scopes and ?scope(s)=. A route that declares none is
 * a misconfiguration (null), never "anything goes": that must be said with ANY_VALID_TOKEN.
 */
function scopesFrom(req: IncomingMessage, query: string): string[] | null {
  const fromHeader = header(req, 'x-latchkey-scopes') ?? '';
  const params = query ? new URLSearchParams(query) : null;
  const fromQuery = params ? [...params.getAll('scope'), ...params.getAll('scopes')] : [];
  const declared = [...new Set([fromHeader, ...fromQuery].flatMap((s) => s.split(/[\s,]+/)).filter(Boolean))];
  if (declared.length === 0) return null;
  if (declared.includes(ANY_VALID_TOKEN)) return declared.length === 1 ? [] : null;
  return declared;
}

export class GatewayRoutes {
  private readonly routes: Record<string, Handler>;

  constructor(
    private readonly verifier: Verifier,
    private readonly log: Logger,
    private readonly misconfigured: (reason: 'no_gateway_credential' | 'no_scopes_declared') => void,
    door: (name: string) => { observe(seconds: number): void },
  ) {
    this.routes = {
      '/v1/verify': (req, res) => this.verify(req, res),
      '/v1/authz': (req, res, query) => this.authz(req, res, query),
      '/oauth2/introspect': (req, res) => this.introspect(req, res),
    };
    this.doors = { '/v1/verify': door('verify'), '/v1/authz': door('authz'), '/oauth2/introspect': door('introspect') };
  }

  private readonly doors: Record<string, { observe(seconds: number): void }>;

  /** Handles the request if it is one of the gateway paths; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const route = this.routes[path];
    if (!route) return false;
    const started = performance.now();
    const door = this.doors[path]!;
    const done = () => door.observe((performance.now() - started) / 1000);
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    try {
      const r = route(req, res, q < 0 ? '' : raw.slice(q + 1));
      if (r instanceof Promise) {
        r.then(done, (err) => {
          this.fail(res, err, path, requestId);
          done();
        });
      } else done();
    } catch (err) {
      this.fail(res, err, path, requestId);
      done();
    }
    return true;
  }

  private gatewayPrincipal(credential: string | null, clientIp: string | null): MaybePromise<Principal> {
    if (!credential)
      throw new DomainError(ErrorCode.UNAUTHENTICATED, 'the gateway must present its own Latchkey token');
    return andThen(this.verifier.authenticateSecret(credential, clientIp), (principal) => {
      requirePermission(principal, Permission.TOKEN_VERIFY);
      return principal;
    });
  }

  /** POST /v1/verify: 200 with the verdict whatever it is. */
  private verify(req: IncomingMessage, res: ServerResponse): MaybePromise<void> {
    if (req.method !== 'POST')
      return sendJson(res, 405, { error: { code: ErrorCode.BAD_USER_INPUT, message: 'use POST' } }, { allow: 'POST' });
    const credential = bearer(header(req, 'authorization'));
    const peer = req.socket.remoteAddress ?? null;
    return withBody(req, (raw) =>
      andThen(this.gatewayPrincipal(credential, peer), (gateway) => {
        const body = parseVerifyBody(raw);
        return andThen(
          this.verifier.check(body.token, body.requiredScopes, gateway.tenantId, body.clientIp),
          ({ result }) => sendJson(res, 200, result),
        );
      }),
    );
  }

  /** GET /v1/authz: forward-auth. 204 with identity headers, or 401/403/429 in RFC 6750 terms. */
  private authz(req: IncomingMessage, res: ServerResponse, query: string): MaybePromise<void> {
    const clientIp = forwardedIp(req);
    const credential = header(req, 'x-latchkey-gateway-token');
    // The gateway's own credential is judged from the gateway's address (the peer).
    return andThen(
      this.gatewayPrincipal(
        credential ? (bearer(credential) ?? credential.trim()) : null,
        req.socket.remoteAddress ?? null,
      ),
      (gateway) => {
        const required = scopesFrom(req, query);
        // Never echoed: a value that is no scope name could carry anything into a header.
        if (required?.some((s) => !isScopeName(s))) {
          return sendJson(res, 400, {
            error: 'invalid_request',
            error_description: 'the route declares a value that is not a scope name (service:resource:read|write)',
          });
        }
        if (!required) {
          this.misconfigured('no_scopes_declared');
          this.log.warn(
            { path: '/v1/authz', uri: header(req, 'x-original-uri') ?? null },
            `forward-auth refused: the route declares no scopes (X-Latchkey-Scopes); say "${ANY_VALID_TOKEN}" alone to admit any valid token`,
          );
          throw new DomainError(
            ErrorCode.GATEWAY_MISCONFIGURED,
            `the route declares no scopes: set X-Latchkey-Scopes to the scopes it needs, or to "${ANY_VALID_TOKEN}" alone`,
          );
        }
        const token = bearer(header(req, 'authorization')) ?? header(req, 'x-api-key')?.trim();
        if (!token)
          return sendJson(
            res,
            401,
            { error: 'invalid_request', error_description: 'no token' },
            { 'www-authenticate': REALM },
          );
        return andThen(this.verifier.check(token, required, gateway.tenantId, clientIp), ({ result }) =>
          this.answerAuthz(res, result, required),
        );
      },
    );
  }

  private answerAuthz(res: ServerResponse, result: VerifyResult, required: string[]): void {
    if (result.valid) {
      return sendJson(res, 204, undefined, {
        'x-latchkey-token-id': result.tokenId!,
        'x-latchkey-owner-id': result.ownerId!,
        'x-latchkey-tenant-id': result.tenantId!,
        'x-latchkey-scopes': result.scopes.join(' '),
        ...(result.rotationPending ? { 'x-latchkey-rotation-pending': 'true' } : {}),
      });
    }
    switch (result.failure) {
      case VerifyFailure.INSUFFICIENT_SCOPE:
        return sendJson(
          res,
          403,
          { error: 'insufficient_scope', scope: required.join(' ') },
          {
            'www-authenticate': `${REALM}, error="insufficient_scope", scope="${required.join(' ')}"`,
          },
        );
      case VerifyFailure.RATE_LIMITED:
        return sendJson(
          res,
          429,
          { error: 'rate_limited', retry_after: result.retryAfter },
          { 'retry-after': String(result.retryAfter ?? 1) },
        );
      case VerifyFailure.IP_NOT_ALLOWED:
        return sendJson(
          res,
          403,
          { error: 'invalid_token', error_description: 'the token may not be used from this address' },
          {
            'www-authenticate': `${REALM}, error="invalid_token", error_description="the token may not be used from this address"`,
          },
        );
      default: {
        const description = `the token is ${String(result.failure).toLowerCase().replace('_', ' ')}`;
        return sendJson(
          res,
          401,
          { error: 'invalid_token', error_description: description },
          {
            'www-authenticate': `${REALM}, error="invalid_token", error_description="${description}"`,
          },
        );
      }
    }
  }

  /** POST /oauth2/introspect (RFC 7662): active and its claims, or just active: false. */
  private introspect(req: IncomingMessage, res: ServerResponse): MaybePromise<void> {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request' }, { allow: 'POST' });
    const auth = header(req, 'authorization');
    // Bearer, or Basic with the gateway's token as the password (what introspection clients send).
    const basic = auth && /^Basic\s+(\S+)$/i.exec(auth);
    const credential = basic
      ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').slice(1).join(':')
      : bearer(auth);
    const peer = req.socket.remoteAddress ?? null;
    const type = header(req, 'content-type') ?? '';
    return withBody(req, (raw) =>
      andThen(this.gatewayPrincipal(credential || null, peer), (gateway) => {
        if (!type.startsWith('application/x-www-form-urlencoded'))
          throw badInput('the body must be application/x-www-form-urlencoded');
        const token = new URLSearchParams(raw).get('token');
        if (!token) return sendJson(res, 400, { error: 'invalid_request', error_description: 'token is required' });
        return andThen(this.verifier.check(token, [], gateway.tenantId, null), ({ result, record }) =>
          sendJson(res, 200, result.valid && record ? introspection(result, record) : { active: false }, {
            'cache-control': 'no-store',
            pragma: 'no-cache',
          }),
        );
      }),
    );
  }

  private fail(res: ServerResponse, err: unknown, path: string, requestId: string): void {
    if (res.headersSent) return;
    if (err instanceof DomainError) {
      // The gateway's own credential is a configuration problem, not the end user's.
      if (path === '/v1/authz' && (err.code === ErrorCode.UNAUTHENTICATED || err.code === ErrorCode.FORBIDDEN)) {
        this.misconfigured('no_gateway_credential');
        this.log.warn(
          { path, requestId, reason: err.message },
          'forward-auth called without a valid gateway credential',
        );
        return sendError(res, new DomainError(ErrorCode.GATEWAY_MISCONFIGURED, err.message), requestId);
      }
      return sendError(res, err, requestId);
    }
    this.log.error({ err, path, requestId }, 'unexpected error on the gateway path');
    sendError(res, new DomainError(ErrorCode.INTERNAL_SERVER_ERROR, 'internal server error'), requestId);
  }
}

const VERIFY_BODY = 'the body must be JSON: { "token": "...", "requiredScopes": ["..."] }';

function parseVerifyBody(raw: string): { token: string; requiredScopes: string[]; clientIp: string | null } {
  let body: { token?: unknown; requiredScopes?: unknown; clientIp?: unknown };
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    throw badInput(VERIFY_BODY);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.token !== 'string')
    throw badInput(VERIFY_BODY);
  const scopes = body.requiredScopes ?? [];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string'))
    throw badInput('requiredScopes must be an array of strings');
  if (body.clientIp !== undefined && body.clientIp !== null && typeof body.clientIp !== 'string')
    throw badInput('clientIp must be a string');
  return { token: body.token, requiredScopes: scopes, clientIp: (body.clientIp as string | undefined) ?? null };
}

/** RFC 7662 claims of a valid token. A PREVIOUS secret expires when its grace ends. */
function introspection(r: VerifyResult, record: SecretRecord): Record<string, unknown> {
  const until = validUntil(record);
  return {
    active: true,
    scope: r.scopes.join(' '),
    client_id: r.tokenId,
    sub: r.ownerId,
    token_type: 'Bearer',
    ...(until !== null ? { exp: Math.floor(until / 1000) } : {}),
    iat: Math.floor(record.createdAt / 1000),
    tenant_id: r.tenantId,
    rotation_pending: r.rotationPending,
  };
}
