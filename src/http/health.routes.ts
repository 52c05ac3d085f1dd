// Health and metrics: GET /healthz (the process runs), GET /readyz (Postgres and Redis answer),
// and GET /metrics in Prometheus text, behind METRICS_TOKEN when one is set.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router } from 'express';
import { bearer } from '../platform/http';

export function healthRoutes(ready: () => Promise<Record<string, boolean>>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks = await ready();
    const failed = Object.entries(checks)
      .filter(([, ok]) => !ok)
      .map(([name]) => name);
    res.status(failed.length ? 503 : 200).json({ status: failed.length ? 'unavailable' : 'ok', failed, checks });
  });
  return router;
}

export function metricsHandler(registry: { metrics(): Promise<string>; contentType: string }, token: string | null) {
  const expected = token ? createHash('sha256').update(token).digest() : null;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    if (expected) {
      const given = bearer(req.headers.authorization);
      // Compared as digests: equal lengths, constant time.
      if (!given || !timingSafeEqual(createHash('sha256').update(given).digest(), expected)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="latchkey-metrics"' }).end();
        return;
      }
    }
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType }).end(text);
  };
}
