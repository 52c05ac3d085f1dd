// POST /v1/tokens/successor: the HTTP door of a successor pickup (tokens/successor.ts), through the
// verification caches first, so that an unknown or dead secret costs no transaction.
import { Router } from 'express';
import type { Logger } from 'pino';
import { DomainError } from '../platform/errors';
import { bearer, type ClientAddresses, sendError } from '../platform/http';
import type { PickupRefusal, SuccessorService } from '../tokens/successor';
import type { Verifier } from './verifier';
import { VerifyFailure } from './verify.types';

const ANSWER: Record<PickupRefusal, { status: number; code: string }> = {
  INVALID: { status: 401, code: 'UNAUTHENTICATED' },
  IP_NOT_ALLOWED: { status: 403, code: 'IP_NOT_ALLOWED' },
  NO_SUCCESSOR: { status: 409, code: 'NO_SUCCESSOR' },
  SUCCESSOR_UNAVAILABLE: { status: 409, code: 'SUCCESSOR_UNAVAILABLE' },
};

/** POST /v1/tokens/successor, authenticated by the PREVIOUS secret. */
export function successorRoutes(service: SuccessorService, verifier: Verifier, addresses: ClientAddresses, log: Logger): Router {
  const router = Router();
  router.post('/v1/tokens/successor', async (req, res) => {
    res.setHeader('cache-control', 'no-store');
    const presented = bearer(req.header('authorization')) ?? req.header('x-api-key') ?? null;
    if (!presented) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="latchkey"');
      return sendError(res, 401, 'UNAUTHENTICATED', 'present the previous secret as Authorization: Bearer');
    }
    const clientIp = addresses.of(req);
    // Through the verification caches first: an unknown or dead secret costs no transaction, and
    // an address presenting many unknown ones is limited (429) before it costs any read.
    let known;
    try {
      known = await verifier.check(presented, [], null, clientIp, 'authentication');
    } catch (err) {
      if (err instanceof DomainError) {
        const retryAfter = err.details.retryAfter;
        if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
        return sendError(res, err.httpStatus, err.code, err.message);
      }
      throw err;
    }
    if (!known.record || [VerifyFailure.NOT_FOUND, VerifyFailure.REVOKED, VerifyFailure.SUSPENDED, VerifyFailure.MALFORMED].includes(known.result.failure!)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="latchkey", error="invalid_token", error_description="the bearer token is not valid"');
      return sendError(res, 401, 'UNAUTHENTICATED', 'the bearer token is not valid');
    }
    const pickup = await service.pickUp(presented, clientIp);
    if (pickup.ok) {
      return res.json({
        token: pickup.secret,
        tokenId: pickup.tokenId,
        generation: pickup.generation,
        hint: pickup.hint,
        expiresAt: pickup.expiresAt?.toISOString() ?? null,
        previousGraceEndsAt: pickup.previousGraceEndsAt.toISOString(),
      });
    }
    const { status, code } = ANSWER[pickup.refusal];
    if (status === 401) res.setHeader('WWW-Authenticate', `Bearer realm="latchkey", error="invalid_token", error_description="${pickup.message}"`);
    log.info({ code }, 'successor pickup refused');
    res.status(status).json({ error: { code, message: pickup.message, ...(pickup.revoked !== undefined ? { revoked: pickup.revoked } : {}) } });
  });
  return router;
}
