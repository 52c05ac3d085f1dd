// The composition root: builds the DataSource, Redis connections and services once and wires
// them together. No DI framework; everything is passed in constructors.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Redis } from 'ioredis';
import { AuditService } from '../audit/audit.service';
import { RoleService } from '../iam/role.service';
import { OwnerService } from '../owners/owner.service';
import { PolicyService } from '../policies/policy.service';
import type { Config } from '../platform/config';
import { createDataSource, ensureDatabase, migrate } from '../platform/db';
import { closeRedis, createRedis } from '../platform/redis';
import { ScopeService } from '../scopes/scope.service';
import { TenantService } from '../tenants/tenant.service';
import { SecretHasher } from '../tokens/secret-hasher';
import { TokenService } from '../tokens/token.service';
import { Verifier } from '../verify/verifier';

export interface Services {
  audit: AuditService;
  roles: RoleService;
  scopes: ScopeService;
  owners: OwnerService;
  policies: PolicyService;
  tokens: TokenService;
  tenants: TenantService;
  verifier: Verifier;
}

export interface Container {
  config: Config;
  log: Logger;
  ds: DataSource;
  redis: Redis;
  services: Services;
  close(): Promise<void>;
}

export function createServices(config: Config, ds: DataSource): Services {
  const hasher = new SecretHasher(config.tokenPepper);
  const audit = new AuditService(ds);
  const roles = new RoleService(ds, audit);
  const scopes = new ScopeService(ds, audit);
  const owners = new OwnerService(ds, audit, scopes);
  const policies = new PolicyService(ds, audit);
  const tokens = new TokenService(ds, audit, scopes, hasher);
  const tenants = new TenantService(ds, audit, roles, owners, tokens);
  const verifier = new Verifier(ds, hasher, roles);
  return { audit, roles, scopes, owners, policies, tokens, tenants, verifier };
}

/** Connects, migrates, bootstraps an empty database and builds the services. */
export async function createContainer(config: Config, log: Logger): Promise<Container> {
  await ensureDatabase(config.databaseUrl);
  const ds = createDataSource(config.databaseUrl);
  await ds.initialize();
  const services = createServices(config, ds);
  const ran = await migrate(ds, async () => {
    await services.tenants.bootstrap(config.bootstrapTenantName, config.bootstrapTokenFile, log);
  });
  if (ran.length > 0) log.info({ migrations: ran }, 'ran migrations');
  const redis = createRedis(config.redisUrl, 'command', 'main');
  return {
    config,
    log,
    ds,
    redis,
    services,
    async close() {
      await closeRedis(redis);
      await ds.destroy();
    },
  };
}
