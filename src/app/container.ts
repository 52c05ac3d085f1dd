// The composition root: builds the DataSource, Redis connections and services once and wires
// them together. No DI framework; everything is passed in constructors.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { AuditSigner } from '../audit/checkpoints';
import { AuditGroupCommit } from '../audit/group-commit';
import { CredentialReveals } from '../credentials/credential-reveal';
import { RevealRefusals } from '../credentials/reveal-refusals';
import { CredentialService } from '../credentials/credential.service';
import { CredentialGrants } from '../credentials/credential-grants';
import { CredentialVersions } from '../credentials/credential-versions';
import { CredentialJobs } from '../credentials/credential.jobs';
import { CredentialRotations } from '../credentials/credential-rotations';
import { RotatorConfiguration } from '../credentials/rotator-configuration';
import { DataKeys } from '../credentials/data-keys';
import { LocalKeyProvider } from '../platform/keyring';
import { AuditHub } from '../events/audit-hub';
import { EventService } from '../events/event.service';
import { AuditRelay } from '../events/relay';
import { bullConnection, Queues } from '../platform/queues';
import { LifecycleActions } from '../lifecycle/lifecycle.jobs';
import { LifecycleOps } from '../lifecycle/operations';
import { Planner } from '../lifecycle/planner';
import { LifecyclePreview } from '../lifecycle/preview';
import { SuccessorService } from '../tokens/successor';
import { SecretBox } from '../platform/secret-box';
import { createOutbound } from '../outbound/outbound';
import { WebhookDeliveries } from '../webhooks/webhook.jobs';
import { WebhookService } from '../webhooks/webhook.service';
import { WebhookDispatch } from '../webhooks/webhook-dispatch';
import { CacheInvalidator, ChangePoller } from '../verify/cache-invalidation';
import { InvalidationBus } from '../verify/invalidation-bus';
import { RoleService } from '../roles/role.service';
import { OwnerService } from '../owners/owner.service';
import { PolicyService } from '../policies/policy.service';
import type { Config } from '../platform/config';
import { createDataSource, ensureDatabase, migrate } from '../platform/db';
import { DATABASE_SCHEMA } from './entities';
import { createMetrics, type Metrics } from '../platform/metrics';
import { closeRedis, createRedis } from '../platform/redis';
import { untilReachable } from '../platform/startup';
import { ScopeService } from '../scopes/scope.service';
import { TenantService } from '../tenants/tenant.service';
import { SecretHasher } from '../tokens/secret-hasher';
import { KeyedBuckets } from '../platform/keyed-buckets';
import { PermissionCache } from '../verify/permission-cache';
import { RecordLoader } from '../verify/record-loader';
import { TokenService } from '../tokens/token.service';
import { TokenSettings } from '../tokens/token-settings';
import { TokenStatusChanges } from '../tokens/token-status';
import { TokenRotation } from '../tokens/token-rotation';
import { TokenUsage } from '../tokens/token-usage';
import { RateLimiter } from '../verify/rate-limiter';
import { LocalRecordCache, SharedRecordCache } from '../verify/record-cache';
import { UsageRecorder } from '../verify/usage';
import { Verifier } from '../verify/verifier';
import { Resealer } from '../platform/resealer';
import { WEBHOOK_SEALED_COLUMNS } from '../webhooks/webhook.entity';
import { CREDENTIAL_SEALED_COLUMNS } from '../credentials/credential.entity';
import { TOKEN_SEALED_COLUMNS } from '../tokens/token-secret.entity';
import { ceilingTokens, policySchedules } from '../tokens/token-transitions';
import { SuccessorSeal } from '../tokens/successor-seal';

/** Every service, by name: what createServices builds (adding one is its line there and its name in the object it returns). */
export type Services = ReturnType<typeof createServices>;

export interface Container {
  config: Config;
  log: Logger;
  ds: DataSource;
  redis: Redis;
  metrics: Metrics;
  services: Services;
  close(): Promise<void>;
}

function createServices(
  config: Config,
  log: Logger,
  ds: DataSource,
  redis: Redis,
  subscriber: Redis,
  bullRedis: Redis,
  metrics: Metrics,
) {
  const prefix = config.redisPrefix;
  const queues = new Queues(bullRedis, prefix);
  const signer = new AuditSigner(config.audit.signingSeed, config.audit.retiredSeeds);
  const hub = new AuditHub(subscriber, prefix, log);
  const hasher = new SecretHasher(config.tokenPepper);
  const bus = new InvalidationBus(redis, subscriber, prefix, log);
  const shared = new SharedRecordCache(redis, prefix, config.verify.sharedTtlMs);
  const changes = new CacheInvalidator(ds, shared, bus, log);
  const poller = new ChangePoller(ds, changes, bus, log, config.verify.changePollMs, config.verify.staleAfterMs);
  const audit = new AuditService(ds, signer, config.audit.checkpointEvery);
  const roles = new RoleService(ds, audit, changes);
  const scopes = new ScopeService(ds, audit);
  const owners = new OwnerService(ds, audit, scopes, changes, ceilingTokens);
  const tokens = new TokenService(ds, audit, scopes, hasher);
  const tokenStatus = new TokenStatusChanges(ds, audit, changes);
  const tokenSettings = new TokenSettings(ds, audit, changes);
  const rotation = new TokenRotation(ds, audit, hasher, changes);
  const tokenUsage = new TokenUsage(ds);
  const policies = new PolicyService(ds, audit, changes, policySchedules);
  const tenants = new TenantService(ds, audit, roles, owners, tokens);
  const box = new SecretBox(config.keyring.keys, config.keyring.activeKeyId);
  const dataKeys = new DataKeys(ds, new LocalKeyProvider(box), audit, log);
  const resealer = new Resealer(
    ds,
    box,
    [...WEBHOOK_SEALED_COLUMNS, ...CREDENTIAL_SEALED_COLUMNS, ...TOKEN_SEALED_COLUMNS],
    log,
  );
  const auditGroup = new AuditGroupCommit(ds, audit, config.audit.groupCommitMax);
  const revealRefusals = new RevealRefusals(auditGroup, config.revealRefusals);
  const reveals = new CredentialReveals(ds, dataKeys, auditGroup, revealRefusals);
  const forgetReveals = () => reveals.forget();
  const credentialVersions = new CredentialVersions(ds, audit, dataKeys, forgetReveals);
  const credentialGrants = new CredentialGrants(ds, audit, forgetReveals);
  const credentials = new CredentialService(ds, audit, credentialVersions, forgetReveals);
  const planner = new Planner(
    ds,
    redis,
    queues,
    { ...config.lifecycle, batch: 1_000, lockTtlMs: Math.max(5_000, config.lifecycle.tickMs * 2) },
    log,
  );
  const successorSeal = new SuccessorSeal(box);
  const lifecycle = new LifecycleActions(ds, audit, hasher, successorSeal, changes, log);
  const preview = new LifecyclePreview(rotation, policies);
  const operations = new LifecycleOps(ds, redis, queues, planner.lastTickKey);
  metrics.sources.lifecycleQueues = () => operations.queueStats();
  metrics.sources.plannerLagSeconds = () => operations.lagSeconds(null);
  const successors = new SuccessorService(ds, hasher, successorSeal, audit, tokenStatus, changes);
  const outbound = createOutbound({
    webhookAllow: config.webhooks.allow,
    rotatorAllow: config.rotators.allow,
    deadlineMs: config.outbound.deadlineMs,
    platformUrls: [config.databaseUrl, config.redisUrl],
  });
  const webhooks = new WebhookService(ds, audit, box, outbound.http);
  const webhookDispatch = new WebhookDispatch(ds, queues, config.webhooks);
  const rotations = new CredentialRotations(
    ds,
    audit,
    credentialVersions,
    box,
    queues,
    outbound,
    config.rotators,
    metrics,
    log,
  );
  const rotatorConfiguration = new RotatorConfiguration(ds, audit, credentialGrants, credentialVersions, box, outbound);
  const credentialJobs = new CredentialJobs(
    ds,
    audit,
    log,
    (tenantId, credentialId, version) => rotations.refuseRetired(tenantId, credentialId, version),
    config.outbound.tenantSlots,
  );
  const deliveries = new WebhookDeliveries(ds, audit, box, outbound.http, config.webhooks, log);
  const relay = new AuditRelay(
    ds,
    redis,
    config.databaseUrl,
    prefix,
    signer,
    scopes,
    webhookDispatch,
    { ...config.relay, checkpointEvery: config.audit.checkpointEvery },
    log,
  );
  const events = new EventService(ds, hub, scopes);
  const usage = new UsageRecorder(ds, metrics, log, config.usageFlushMs, config.usageDailyFlushMs);
  const local = new LocalRecordCache(config.verify, () => poller.trusted());
  metrics.sources.verifyCacheEntries = () => local.size;
  metrics.sources.verifyCacheTrusted = () => poller.trusted();
  const verifier = new Verifier({
    ds,
    hasher,
    permissions: new PermissionCache(roles, config.verify.permissionsTtlMs, log),
    records: new RecordLoader(ds),
    audit,
    local,
    shared,
    limiter: new RateLimiter(redis, prefix),
    usage,
    bus,
    redis,
    redisPrefix: prefix,
    metrics,
    log,
    misses: new KeyedBuckets(config.authMisses.perSecond, config.authMisses.burst),
  });
  return {
    audit,
    dataKeys,
    resealer,
    credentials,
    credentialVersions,
    credentialGrants,
    reveals,
    revealRefusals,
    credentialJobs,
    rotations,
    rotatorConfiguration,
    outbound,
    roles,
    scopes,
    owners,
    policies,
    tokens,
    tokenStatus,
    tokenSettings,
    rotation,
    tokenUsage,
    tenants,
    verifier,
    usage,
    bus,
    poller,
    webhooks,
    webhookDispatch,
    deliveries,
    events,
    hub,
    relay,
    signer,
    queues,
    planner,
    lifecycle,
    preview,
    operations,
    successors,
  };
}

/** Connects, migrates, bootstraps an empty database and builds the services. */
export async function createContainer(config: Config, log: Logger): Promise<Container> {
  await untilReachable(
    'Postgres',
    'DATABASE_URL',
    () => ensureDatabase(config.databaseUrl),
    config.startupTimeoutMs,
    log,
  );
  const ds = createDataSource(config.databaseUrl, DATABASE_SCHEMA);
  await ds.initialize();
  const redis = createRedis(config.redisUrl, 'command', 'main', log);
  try {
    await untilReachable('Redis', 'REDIS_URL', () => redis.ping(), config.startupTimeoutMs, log);
  } catch (err) {
    redis.disconnect();
    await ds.destroy();
    throw err;
  }
  const subscriber = createRedis(config.redisUrl, 'subscriber', 'events', log);
  const bullRedis = bullConnection(config.redisUrl, 'queues', log);
  const metrics = createMetrics();
  const services = createServices(config, log, ds, redis, subscriber, bullRedis, metrics);
  const ran = await migrate(ds, async () => {
    await services.tenants.bootstrap(
      config.bootstrapTenantName,
      config.bootstrapTokenFile,
      config.bootstrapTokenTtlS,
      log,
    );
  });
  for (const t of await services.tenants.longLivedPlatformTokens(config.bootstrapTokenTtlS)) {
    log.warn(
      { tokenId: t.id, tenantId: t.tenantId, ownerId: t.ownerId, createdAt: t.createdAt, expiresAt: t.expiresAt },
      'a platform admin token is live past BOOTSTRAP_TOKEN_TTL (or never expires): create a named admin, then revoke it (README, "Day one")',
    );
  }
  if (ran.length > 0) log.info({ migrations: ran }, 'ran migrations');
  try {
    await services.dataKeys.checkRing();
    for (const u of await services.resealer.unreadable()) {
      log.error(
        u,
        `${u.rows} row(s) of ${u.table}.${u.column} are sealed under key ${u.keyId}, which ENCRYPTION_KEYS does not hold: put it back in the ring (what they seal cannot be opened meanwhile)`,
      );
    }
  } catch (err) {
    await services.queues.close();
    await Promise.all([closeRedis(bullRedis), closeRedis(subscriber), closeRedis(redis)]);
    await ds.destroy();
    throw err;
  }
  await services.bus.start();
  // Only API processes have subscribers to fan events out to.
  if (config.role !== 'worker') await services.hub.start();
  await services.poller.start();
  services.verifier.start();
  services.usage.start();
  await services.relay.start();
  return {
    config,
    log,
    ds,
    redis,
    metrics,
    services,
    async close() {
      await services.relay.stop();
      await services.poller.stop();
      await services.verifier.stop();
      await services.usage.stop();
      await services.revealRefusals.stop();
      await services.queues.close();
      await closeRedis(bullRedis);
      await closeRedis(subscriber);
      await closeRedis(redis);
      await ds.destroy();
    },
  };
}
