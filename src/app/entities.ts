// Every TypeORM entity and every migration, listed explicitly (no globs): the compiled build and
// the TypeScript sources the tests run use exactly the same set.
import { migrations } from '../../migrations';
import { AuditEvent, AuditHeadRow } from '../audit/audit-event.entity';
import { Role, RoleBindingRow } from '../roles/role.entity';
import { Owner } from '../owners/owner.entity';
import { OwnerScopeRow, TokenScopeRow } from '../scopes/scope-links.entity';
import type { Schema } from '../platform/db';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { Scope } from '../scopes/scope.entity';
import { Tenant } from '../tenants/tenant.entity';
import { TokenRow } from '../tokens/token.entity';
import { TokenSecretRow } from '../tokens/token-secret.entity';
import { Webhook, WebhookDelivery } from '../webhooks/webhook.entity';
import {
  Credential,
  CredentialGrant,
  CredentialRotation,
  CredentialVersion,
  TenantDataKey,
} from '../credentials/credential.entity';

export const DATABASE_SCHEMA: Schema = {
  entities: [
    Tenant,
    Owner,
    OwnerScopeRow,
    Role,
    RoleBindingRow,
    Scope,
    RotationPolicy,
    TokenRow,
    TokenScopeRow,
    TokenSecretRow,
    AuditEvent,
    AuditHeadRow,
    Webhook,
    WebhookDelivery,
    Credential,
    CredentialVersion,
    CredentialGrant,
    CredentialRotation,
    TenantDataKey,
  ],
  migrations,
};
