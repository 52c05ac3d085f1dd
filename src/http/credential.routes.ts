// GET /v1/credentials/{name}: a consumer (the dashboard's backend) reads a credential's value with
// a CONTROL token of its own: what it may read is what its owner was granted. DATA tokens never
// read credentials. Served before Express, like the gateway paths, because consumers revalidate
// often: the token goes through the verification caches (a stranger's guesses cost no database
// read), and every answer is no-store with an ETag per version.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CredentialReveals } from '../credentials/credential-reveal';
import { badInput, DomainError, ErrorCode, unauthenticated } from '../platform/errors';
import { bearer, type ClientAddresses } from '../platform/http';
import type { Verifier } from '../verify/verifier';
import { VerifyFailure } from '../verify/verify.types';
import { REALM, requestIdOf, sendError, sendJson } from './answer';

const PREFIX = '/v1/credentials/';
const INVALID = `${REALM}, error="invalid_token"`;

/** The path segment decoded, or null when it is not percent-encoded UTF-8 (`%C0%AF`). */
function decodedName(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

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
    const requestId = requestIdOf(req);
    void this.serve(req, res, raw, requestId)
      .catch((err) => {
        const known = err instanceof DomainError;
        if (!known)
          this.log.error(
            { requestId, err: { message: (err as Error).message, type: (err as Error).name } },
            'credential read failed',
          );
        const answer = known
          ? err
          : new DomainError(ErrorCode.UNAVAILABLE, 'the credential could not be read; nothing was handed out');
        sendError(res, answer, requestId, { 'cache-control': 'no-store' });
      })
      .finally(() => this.door.observe((performance.now() - started) / 1000));
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, raw: string, requestId: string): Promise<void> {
    const url = new URL(raw, 'http://latchkey');
    const name = decodedName(url.pathname.slice(PREFIX.length));
    if (name === null) throw badInput('the credential name in the path is not valid percent-encoded UTF-8');
    const presented = bearer(req.headers.authorization);
    if (!presented) throw unauthenticated('present your Latchkey token as Authorization: Bearer');
    const clientIp = this.addresses.of(req);
    const { result, record } = await this.verifier.check(presented, [], null, clientIp, 'authentication');
    if (result.failure === VerifyFailure.RATE_LIMITED) {
      throw new DomainError(
        ErrorCode.RATE_LIMITED,
        `this token is over its rate limit; retry in ${result.retryAfter ?? 1} s`,
        { retryAfter: result.retryAfter ?? 1 },
      );
    }
    if (!result.valid || !record)
      throw new DomainError(ErrorCode.UNAUTHENTICATED, `the bearer token is not valid (${result.failure})`, {
        challenge: INVALID,
      });
    // A DATA token is for the APIs its scopes reach: leaked with the dashboard's traffic, it must
    // not also open the vault.
    if (record.kind !== 'CONTROL') {
      throw new DomainError(
        ErrorCode.UNAUTHENTICATED,
        'this is a DATA token; credentials are read with a CONTROL token of the granted owner',
        { challenge: INVALID },
      );
    }
    const v = url.searchParams.get('version');
    const version = v === null ? null : Number(v);
    if (version !== null && !(Number.isSafeInteger(version) && version > 0))
      throw badInput('version must be a positive whole number');
    const ifNoneMatch = req.headers['if-none-match'] ?? null;
    const revealed = await this.reveals.reveal({
      tenantId: record.tenantId,
      ownerId: record.ownerId,
      tokenId: record.tokenId,
      name,
      version,
      clientIp,
      door: 'rest',
      ifNoneMatch,
    });
    const headers = { 'x-request-id': requestId, 'cache-control': 'no-store', etag: revealed.etag };
    if (!revealed.modified) return sendJson(res, 304, undefined, headers);
    const { value, expiresAt, graceEndsAt, nextRotationAt } = revealed;
    sendJson(
      res,
      200,
      {
        name: revealed.name,
        version: revealed.version,
        value,
        expiresAt: expiresAt?.toISOString() ?? null,
        graceEndsAt: graceEndsAt?.toISOString() ?? null,
        nextRotationAt: nextRotationAt?.toISOString() ?? null,
      },
      headers,
    );
  }
}
