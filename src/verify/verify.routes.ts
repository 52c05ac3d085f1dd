// The REST face of verification for gateways: POST /v1/verify.
import { Router } from 'express';
import { Permission } from '../iam/permissions';
import { requirePermission } from '../iam/principal';
import { badInput } from '../platform/errors';
import type { Metrics } from '../platform/metrics';
import type { Verifier } from './verifier';

export function verifyRoutes(verifier: Verifier, metrics: Metrics): Router {
  const router = Router();
  router.post('/v1/verify', async (req, res) => {
    const principal = await verifier.authenticate(req.header('authorization'));
    requirePermission(principal, Permission.TOKEN_VERIFY);
    const body = req.body as { token?: unknown; requiredScopes?: unknown } | undefined;
    if (!body || typeof body !== 'object' || typeof body.token !== 'string') {
      throw badInput('the body must be JSON: { "token": "...", "requiredScopes": ["..."] }');
    }
    const scopes = body.requiredScopes ?? [];
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) {
      throw badInput('requiredScopes must be an array of strings');
    }
    const result = await verifier.verify(body.token, scopes, principal.tenantId);
    metrics.verifications.inc({ result: result.failure ?? 'VALID' });
    res.json(result);
  });
  return router;
}
