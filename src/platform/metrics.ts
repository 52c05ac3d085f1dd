// Prometheus metrics of this process.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  const registers = [registry];
  /** Readings taken at scrape time; the composition root points them at their sources. */
  const sources = {
    verifyCacheEntries: () => 0,
    verifyCacheTrusted: () => true,
    lifecycleQueues: async (): Promise<Array<{ name: string; waiting: number; delayed: number; active: number; failed: number }>> => [],
    plannerLagSeconds: async () => 0,
  };
  return {
    registry,
    sources,
    verificationsOf: hotCounter(registry, 'latchkey_verifications_total', 'Token verifications by result (VALID or the failure)', 'result'),
    lookupsIn: hotCounter(registry, 'latchkey_verify_lookups_total', 'Where verification found a record: local, local_negative, redis or postgres', 'layer'),
    cacheRenewals: new Counter({
      name: 'latchkey_verify_cache_renewals_total',
      help: 'In-process verification records read again before they expired, because requests use them',
      registers,
    }),
    invalidations: new Counter({
      name: 'latchkey_invalidations_total',
      help: 'Invalidations received, by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    gatewayMisconfigured: new Counter({
      name: 'latchkey_gateway_misconfigured_total',
      help: 'Forward-auth requests refused because the gateway is misconfigured: no_gateway_credential, no_scopes_declared',
      labelNames: ['reason'] as const,
      registers,
    }),
    authMissesLimited: new Counter({
      name: 'latchkey_auth_misses_limited_total',
      help: 'Credentials refused with 429 before any lookup: their client address presented too many unknown ones',
      registers,
    }),
    rateLimitErrors: new Counter({
      name: 'latchkey_rate_limit_errors_total',
      help: 'Rate-limit checks that could not reach Redis (the request was allowed)',
      registers,
    }),
    verifyCacheEntries: new Gauge({
      name: 'latchkey_verify_cache_entries',
      help: 'Verification records held in this process',
      registers,
      collect() {
        this.set(sources.verifyCacheEntries());
      },
    }),
    verifyCacheTrusted: new Gauge({
      name: 'latchkey_verify_cache_trusted',
      help: '1 while this process has seen every token change (its change polls succeed), else 0 and the in-process cache is bypassed',
      registers,
      collect() {
        this.set(sources.verifyCacheTrusted() ? 1 : 0);
      },
    }),
    lifecycleActions: new Counter({
      name: 'latchkey_lifecycle_actions_total',
      help: 'Scheduled actions run by this process, by kind and result (done, or skipped because the token changed since planning)',
      labelNames: ['kind', 'result'] as const,
      registers,
    }),
    lifecycleJobs: new Gauge({
      name: 'latchkey_lifecycle_jobs',
      help: 'Scheduled-action jobs in Redis, cluster-wide, by queue and state',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        for (const q of (await settled(sources.lifecycleQueues())) ?? []) {
          for (const state of ['waiting', 'delayed', 'active', 'failed'] as const) this.set({ queue: q.name, state }, q[state]);
        }
      },
    }),
    plannerLag: new Gauge({
      name: 'latchkey_lifecycle_planner_lag_seconds',
      help: 'How late the oldest due scheduled action not yet done is, cluster-wide',
      registers,
      async collect() {
        const lag = await settled(sources.plannerLagSeconds());
        if (lag !== undefined) this.set(lag);
      },
    }),
    subscriptionExecutions: hotCounter(registry, 'latchkey_subscription_executions_total', 'Executions of subscription selections, one per event per audience (subscribers with the same view share one)', 'subscription'),
    subscriptionDeliveries: hotCounter(registry, 'latchkey_subscription_deliveries_total', 'Subscription results sent to WebSocket subscribers', 'subscription'),
    usageFlushLag: new Gauge({
      name: 'latchkey_usage_flush_lag_seconds',
      help: 'Age of the oldest usage record written by the last flush',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * A reading from Redis or Postgres, or undefined when it fails or takes over a second: a scrape
 * must answer while Redis is down (the gauge keeps its last value).
 */
function settled<T>(reading: Promise<T>): Promise<T | undefined> {
  return Promise.race([reading.catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000).unref())]);
}

/**
 * A counter with one label for the verification path, which counts on every request: it adds to
 * a plain number and hands the sum to prom-client at scrape time (prom-client hashes and checks
 * the labels on every increment).
 */
function hotCounter(registry: Registry, name: string, help: string, label: string) {
  const children = new Map<string, { n: number; inc(): void }>();
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const [value, child] of children) {
        if (child.n > 0) this.inc({ [label]: value }, child.n);
        child.n = 0;
      }
    },
  });
  return (value: string) => {
    let child = children.get(value);
    if (!child) {
      const c = { n: 0, inc: () => void c.n++ };
      children.set(value, (child = c));
    }
    return child;
  };
}
