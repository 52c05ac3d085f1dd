// POST /v1/tokens/successor: the HTTP door of a successor pickup (tokens/successor.ts), through the
// verification caches first, so that an unknown or dead secret costs no transaction.
import { Router } from 'express';
import { DomainError, ErrorCode, unauthenticated } from '../platform/errors';
import { bearer, type ClientAddresses } from '../platform/http';
import type { PickupRefusal, SuccessorService } from '../tokens/successor';
import type { Verifier } from '../verify/verifier';
import { VerifyFailure } from '../verify/verify.types';
import { REALM, sendError } from './answer';

const REFUSAL: Record<PickupRefusal, ErrorCode> = {
  INVALID: ErrorCode.UNAUTHENTICATED,
  IP_NOT_ALLOWED: ErrorCode.IP_NOT_ALLOWED,
  NO_SUCCESSOR: ErrorCode.NO_SUCCESSOR,
  SUCCESSOR_UNAVAILABLE: ErrorCode.SUCCESSOR_UNAVAILABLE,
};
const DEAD = [VerifyFailure.NOT_FOUND, VerifyFailure.REVOKED, VerifyFailure.SUSPENDED, VerifyFailure.MALFORMED];

/** POST /v1/tokens/successor, authenticated by the PREVIOUS secret. */
export function successorRoutes(service: SuccessorService, verifier: Verifier, addresses: ClientAddresses): Router {
  const router = Router();
  router.post('/v1/tokens/successor', async (req, res) => {
    res.setHeader('cache-control', 'no-store');
    const presented = bearer(req.header('authorization')) ?? req.header('x-api-key') ?? null;
    if (!presented)
      return sendError(res, unauthenticated('present the previous secret as Authorization: Bearer'), req.id);
    const clientIp = addresses.of(req);
    // Through the verification caches first: an unknown or dead secret costs no transaction, and
    // an address presenting many unknown ones is limited (429) before it costs any read.
    const known = await verifier.check(presented, [], null, clientIp, 'authentication');
    if (!known.record || DEAD.includes(known.result.failure!)) {
      const description = 'the bearer token is not valid';
      return sendError(
        res,
        new DomainError(ErrorCode.UNAUTHENTICATED, description, {
          challenge: `${REALM}, error="invalid_token", error_description="${description}"`,
        }),
        req.id,
      );
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
    const code = REFUSAL[pickup.refusal];
    req.log.info({ code }, 'successor pickup refused');
    const details = {
      ...(pickup.revoked !== undefined ? { revoked: pickup.revoked } : {}),
      ...(code === ErrorCode.UNAUTHENTICATED
        ? { challenge: `${REALM}, error="invalid_token", error_description="${pickup.message}"` }
        : {}),
    };
    sendError(res, new DomainError(code, pickup.message, details), req.id);
  });
  return router;
}
