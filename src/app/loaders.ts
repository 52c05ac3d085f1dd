// Per-request DataLoaders: related objects of a page load in a constant number of queries.
import DataLoader from 'dataloader';
import type { CredentialGrant, CredentialVersion } from '../credentials/credential.entity';
import type { CredentialService } from '../credentials/credential.service';
import type { CredentialGrants } from '../credentials/credential-grants';
import type { RoleService } from '../roles/role.service';
import type { Role } from '../roles/role.entity';
import type { Owner } from '../owners/owner.entity';
import type { OwnerService } from '../owners/owner.service';
import type { PolicyService } from '../policies/policy.service';
import type { RotationPolicy } from '../policies/rotation-policy.entity';
import type { PolicyUsage } from '../policies/policy.types';
import { byKey } from '../platform/batch';
import type { CredentialLoaders } from '../credentials/credential.loaders';
import type { OwnerLoaders } from '../owners/owner.loaders';
import type { RoleLoaders } from '../roles/role.loaders';
import type { PolicyLoaders } from '../policies/policy.loaders';
import type { ScopeLoaders } from '../scopes/scope.loaders';
import type { TokenLoaders } from '../tokens/token.loaders';
import type { Scope } from '../scopes/scope.entity';
import type { ScopeService } from '../scopes/scope.service';
import type { ScopeUsage } from '../scopes/scope.types';
import type { TokenSecretRow } from '../tokens/token-secret.entity';
import type { TokenUsage, UsageSummary } from '../tokens/token-usage';
import type { DailyUsage } from '../tokens/token.types';

export interface LoaderSources {
  owners: OwnerService;
  roles: RoleService;
  scopes: ScopeService;
  policies: PolicyService;
  tokenUsage: TokenUsage;
  credentials: CredentialService;
  credentialGrants: CredentialGrants;
}

/** Every domain's loaders, in one object per request. */
export type Loaders = TokenLoaders & OwnerLoaders & RoleLoaders & PolicyLoaders & ScopeLoaders & CredentialLoaders;

/**
 * `cache: false` for subscriptions: their context lives as long as the subscription, and each
 * event must see the data as it is then (loads still batch within a tick).
 */
export function createLoaders(s: LoaderSources, tenantId: string, { cache = true }: { cache?: boolean } = {}): Loaders {
  const options = { cache };
  const usageByRange = new Map<string, DataLoader<string, DailyUsage[]>>();
  return {
    /** One loader per date range asked for in the operation. */
    usage(from: Date, to: Date): DataLoader<string, DailyUsage[]> {
      const key = `${from.toISOString()}/${to.toISOString()}`;
      let loader = usageByRange.get(key);
      if (!loader)
        usageByRange.set(
          key,
          (loader = new DataLoader((ids) => s.tokenUsage.usageByTokenIds(tenantId, ids, from, to), options)),
        );
      return loader;
    },
    owner: new DataLoader<string, Owner | null>(
      async (ids) => byKey(ids, await s.owners.byIds(tenantId, ids), (o) => o.id),
      options,
    ),
    ownerRoles: new DataLoader<string, Role[]>((ids) => s.roles.byOwnerIds(tenantId, ids), options),
    ownerScopes: new DataLoader<string, Scope[]>((ids) => s.scopes.byOwnerIds(tenantId, ids), options),
    tokenScopes: new DataLoader<string, Scope[]>((ids) => s.scopes.byTokenIds(tenantId, ids), options),
    usageSummary: new DataLoader<string, UsageSummary>((ids) => s.tokenUsage.usageSummaries(tenantId, ids), options),
    tokenSecrets: new DataLoader<string, TokenSecretRow[]>(
      (ids) => s.tokenUsage.secretsByTokenIds(tenantId, ids),
      options,
    ),
    policy: new DataLoader<string, RotationPolicy | null>(
      async (ids) => byKey(ids, await s.policies.byIds(tenantId, ids), (p) => p.id),
      options,
    ),
    policyUsage: new DataLoader<string, PolicyUsage>((ids) => s.policies.usage(tenantId, ids), options),
    scopeUsage: new DataLoader<string, ScopeUsage>((ids) => s.scopes.usage(tenantId, ids), options),
    credentialReaders: new DataLoader<string, CredentialGrant[]>(
      (ids) => s.credentialGrants.grantsByCredentialIds(tenantId, ids),
      options,
    ),
    currentCredentialVersion: new DataLoader<string, CredentialVersion | null>(
      (ids) => s.credentials.currentVersions(tenantId, ids),
      options,
    ),
  };
}
