// Prometheus metrics of this process.
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  return {
    registry,
    verifications: new Counter({
      name: 'latchkey_verifications_total',
      help: 'Token verifications by result (valid or the failure)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
