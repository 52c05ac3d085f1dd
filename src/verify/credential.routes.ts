// GET /v1/credentials/{name}: a consumer (the dashboard's backend) reads a credential's value with
// its own Latchkey token, CONTROL or DATA: what it may read is what its owner was granted, not
// what its token's kind or scopes say. The token goes through the verification caches first, so a
// stranger's guesses cost no database read. Every answer is no-store; each version has an ETag.
import { Router } from 'express';
import type { Logger } from 'pino';
import type { CredentialReveals } from '../credentials/credential-reveal';
import { DomainError } from '../platform/errors';
import { bearer, type ClientAddresses, sendError } from '../platform/http';
import type { Metrics } from '../platform/metrics';
import type { Verifier } from './verifier';

export function credentialRoutes(reveals: CredentialReveals, verifier: Verifier, addresses: ClientAddresses, metrics: Metrics, log: Logger): Router {
  const router = Router();
  const door = metrics.requestSeconds('credentials');
  router.get('/v1/credentials/:name', async (req, res) => {
    const started = performance.now();
    res.setHeader('cache-control', 'no-store');
    try {
      const presented = bearer(req.header('authorization'));
      if (!presented) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="latchkey"');
        return sendError(res, 401, 'UNAUTHENTICATED', 'present your Latchkey token as Authorization: Bearer');
      }
      const clientIp = addresses.of(req);
      const { result, record } = await verifier.check(presented, [], null, clientIp, 'authentication');
      if (!result.valid || !record) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="latchkey", error="invalid_token"');
        return sendError(res, 401, 'UNAUTHENTICATED', `the bearer token is not valid (${result.failure})`);
      }
      const version = req.query.version === undefined ? null : Number(req.query.version);
      if (version !== null && !(Number.isSafeInteger(version) && version > 0)) return sendError(res, 400, 'BAD_USER_INPUT', 'version must be a positive whole number');
      const revealed = await reveals.reveal({
        tenantId: record.tenantId,
        ownerId: record.ownerId,
        tokenId: record.tokenId,
        name: req.params.name!,
        version,
        clientIp,
        door: 'rest',
        ifNoneMatch: req.header('if-none-match') ?? null,
      });
      res.setHeader('etag', revealed.etag);
      if (!revealed.modified) return res.status(304).end();
      res.json({
        name: revealed.name,
        version: revealed.version,
        value: revealed.value,
        expiresAt: revealed.expiresAt?.toISOString() ?? null,
        graceEndsAt: revealed.graceEndsAt?.toISOString() ?? null,
        nextRotationAt: null,
      });
    } catch (err) {
      if (!(err instanceof DomainError)) {
        log.error({ err: { message: (err as Error).message, type: (err as Error).name } }, 'credential read failed');
        return sendError(res, 503, 'UNAVAILABLE', 'the credential could not be read; nothing was handed out');
      }
      const retryAfter = err.details.retryAfter;
      if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
      sendError(res, err.httpStatus, err.code, err.message);
    } finally {
      door.observe((performance.now() - started) / 1000);
    }
  });
  return router;
}
