// GET /v1/credentials/{name}: a consumer (the dashboard's backend) reads a credential's value with
// a CONTROL token of its own: what it may read is what its owner was granted. DATA tokens never
// read credentials. Served before Express, like the gateway paths, because
// consumers revalidate often: the token goes through the verification caches (a stranger's
// guesses cost no database read), and every answer is no-store with an ETag per version.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CredentialReveals } from '../credentials/credential-reveal';
import { DomainError } from '../platform/errors';
import { bearer, type ClientAddresses } from '../platform/http';
import type { Verifier } from './verifier';
import { VerifyFailure } from './verify.types';

const PREFIX = '/v1/credentials/';

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** The path segment decoded, or null when it is not percent-encoded UTF-8 (`%C0%AF`). */
function decodedName(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

const error = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) => send(res, status, { error: { code, message } }, headers);

export class CredentialRoutes {
  constructor(
    private readonly reveals: CredentialReveals,
    private readonly verifier: Verifier,
    private readonly addresses: ClientAddresses,
    private readonly door: { observe(seconds: number): void },
    private readonly log: Logger,
  ) {}

  /** Handles GET /v1/credentials/{name}; returns false for any other request. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const raw = req.url ?? '/';
    if (!raw.startsWith(PREFIX) || req.method !== 'GET') return false;
    const started = performance.now();
    void this.serve(req, res, raw).finally(() => this.door.observe((performance.now() - started) / 1000));
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    try {
      const url = new URL(raw, 'http://latchkey');
      const name = decodedName(url.pathname.slice(PREFIX.length));
      if (name === null) return error(res, 400, 'BAD_USER_INPUT', 'the credential name in the path is not valid percent-encoded UTF-8');
      const presented = bearer(req.headers.authorization);
      if (!presented) return error(res, 401, 'UNAUTHENTICATED', 'present your Latchkey token as Authorization: Bearer', { 'www-authenticate': 'Bearer realm="latchkey"' });
      const clientIp = this.addresses.of(req);
      const { result, record } = await this.verifier.check(presented, [], null, clientIp, 'authentication');
      if (result.failure === VerifyFailure.RATE_LIMITED) {
        const retryAfter = String(result.retryAfter ?? 1);
        return error(res, 429, 'RATE_LIMITED', `this token is over its rate limit; retry in ${retryAfter} s`, { 'retry-after': retryAfter });
      }
      if (!result.valid || !record) {
        return error(res, 401, 'UNAUTHENTICATED', `the bearer token is not valid (${result.failure})`, { 'www-authenticate': 'Bearer realm="latchkey", error="invalid_token"' });
      }
      // A DATA token is for the APIs its scopes reach: leaked with the dashboard's traffic, it must
      // not also open the vault.
      if (record.kind !== 'CONTROL') {
        return error(res, 401, 'UNAUTHENTICATED', 'this is a DATA token; credentials are read with a CONTROL token of the granted owner', {
          'www-authenticate': 'Bearer realm="latchkey", error="invalid_token"',
        });
      }
      const v = url.searchParams.get('version');
      const version = v === null ? null : Number(v);
      if (version !== null && !(Number.isSafeInteger(version) && version > 0)) return error(res, 400, 'BAD_USER_INPUT', 'version must be a positive whole number');
      const ifNoneMatch = req.headers['if-none-match'] ?? null;
      const revealed = await this.reveals.reveal({ tenantId: record.tenantId, ownerId: record.ownerId, tokenId: record.tokenId, name, version, clientIp, door: 'rest', ifNoneMatch });
      if (!revealed.modified) {
        res.writeHead(304, { etag: revealed.etag, 'cache-control': 'no-store' });
        return void res.end();
      }
      send(
        res,
        200,
        { name: revealed.name, version: revealed.version, value: revealed.value, expiresAt: revealed.expiresAt?.toISOString() ?? null, graceEndsAt: revealed.graceEndsAt?.toISOString() ?? null, nextRotationAt: revealed.nextRotationAt?.toISOString() ?? null },
        { etag: revealed.etag },
      );
    } catch (err) {
      if (err instanceof DomainError) {
        const retryAfter = err.details.retryAfter;
        return error(res, err.httpStatus, err.code, err.message, typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {});
      }
      this.log.error({ err: { message: (err as Error).message, type: (err as Error).name } }, 'credential read failed');
      error(res, 503, 'UNAVAILABLE', 'the credential could not be read; nothing was handed out');
    }
  }
}
