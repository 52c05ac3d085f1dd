// Prometheus metrics of this process.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { withinMs } from './maybe-promise';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  const registers = [registry];
  /** Readings taken at scrape time; the composition root points them at their sources. */
  const sources = {
    verifyCacheEntries: () => 0,
    verifyCacheTrusted: () => true,
    lifecycleQueues: async (): Promise<
      Array<{ name: string; waiting: number; delayed: number; active: number; failed: number }>
    > => [],
    plannerLagSeconds: async () => 0,
  };
  return {
    registry,
    sources,
    verificationsOf: hotCounter(
      registry,
      'latchkey_verifications_total',
      "Token verifications by result (VALID or the failure): gateways' and authentications together",
      'result',
    ),
    gatewayVerificationsOf: hotCounter(
      registry,
      'latchkey_gateway_verifications_total',
      "Verifications of end users' tokens for gateways, by result",
      'result',
    ),
    authenticationsOf: hotCounter(
      registry,
      'latchkey_authentications_total',
      "Credentials presented to Latchkey itself (the API, gateways' own tokens, successor pickups), by result",
      'result',
    ),
    requestSeconds: hotHistogram(
      registry,
      'latchkey_request_duration_seconds',
      'Time to answer, by door: verify, authz, introspect, credentials, graphql_query, graphql_mutation',
      'door',
    ),
    webhookDeliveries: new Counter({
      name: 'latchkey_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, failed (to be retried), dead (given up), skipped',
      labelNames: ['outcome'] as const,
      registers,
    }),
    credentialRotations: new Counter({
      name: 'latchkey_credential_rotations_total',
      help: 'Credential rotations by how they ended: done, failed (a step ran out of attempts), abandoned (past the deadline)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    lookupsIn: hotCounter(
      registry,
      'latchkey_verify_lookups_total',
      'Where verification found a record: local, local_negative, redis or postgres',
      'layer',
    ),
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
        for (const q of (await withinMs(sources.lifecycleQueues(), 1_000)) ?? []) {
          for (const state of ['waiting', 'delayed', 'active', 'failed'] as const)
            this.set({ queue: q.name, state }, q[state]);
        }
      },
    }),
    plannerLag: new Gauge({
      name: 'latchkey_lifecycle_planner_lag_seconds',
      help: 'How late the oldest due scheduled action not yet done is, cluster-wide',
      registers,
      async collect() {
        // A scrape must answer while Redis is down: the gauge keeps its last value.
        const lag = await withinMs(sources.plannerLagSeconds(), 1_000);
        if (lag !== undefined) this.set(lag);
      },
    }),
    subscriptionExecutions: hotCounter(
      registry,
      'latchkey_subscription_executions_total',
      'Executions of subscription selections, one per event per audience (subscribers with the same view share one)',
      'subscription',
    ),
    subscriptionDeliveries: hotCounter(
      registry,
      'latchkey_subscription_deliveries_total',
      'Subscription results sent to WebSocket subscribers',
      'subscription',
    ),
    usageFlushLag: new Gauge({
      name: 'latchkey_usage_flush_lag_seconds',
      help: 'Age of the oldest usage record written by the last flush',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const SECONDS_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A histogram with one label for the verification path, which observes every request: a bucket
 * count in plain numbers, handed to prom-client as a histogram at scrape time.
 */
function hotHistogram(registry: Registry, name: string, help: string, label: string) {
  const children = new Map<string, { counts: number[]; sum: number; count: number; observe(seconds: number): void }>();
  registry.registerMetric({
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({
      name,
      help,
      type: 'histogram' as never,
      aggregator: 'sum' as const,
      values: [...children].flatMap(([value, c]) => {
        let cumulative = 0;
        return [
          ...SECONDS_BUCKETS.map((le, i) => ({
            metricName: `${name}_bucket`,
            labels: { [label]: value, le },
            value: (cumulative += c.counts[i]!),
          })),
          { metricName: `${name}_bucket`, labels: { [label]: value, le: '+Inf' }, value: c.count },
          { metricName: `${name}_sum`, labels: { [label]: value }, value: c.sum },
          { metricName: `${name}_count`, labels: { [label]: value }, value: c.count },
        ];
      }),
    }),
    reset: () => children.clear(),
  } as never);
  return (value: string) => {
    let child = children.get(value);
    if (!child) {
      const c = {
        counts: SECONDS_BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
        observe(seconds: number) {
          const i = SECONDS_BUCKETS.findIndex((le) => seconds <= le);
          if (i >= 0) c.counts[i]!++;
          c.sum += seconds;
          c.count++;
        },
      };
      children.set(value, (child = c));
    }
    return child;
  };
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
