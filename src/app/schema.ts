// The GraphQL schema, built once from the resolver classes. Building needs no database, so
// `npm run schema` can emit it anywhere.
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import type { Services } from './container';
import { AuditResolver } from '../audit/audit.resolver';
import { EventResolver } from '../events/event.resolver';
import { WebhookResolver } from '../webhooks/webhook.resolver';
import { CredentialResolver } from '../credentials/credential.resolver';
import { requirePermission } from '../iam/principal';
import type { Permission } from '../iam/permissions';
import { RoleResolver } from '../roles/role.resolver';
import { OwnerRolesResolver } from '../roles/owner-roles.resolver';
import { OwnerResolver } from '../owners/owner.resolver';
import { PolicyResolver } from '../policies/policy.resolver';
import { LifecycleResolver } from '../lifecycle/lifecycle.resolver';
import { PolicyImpactResolver } from '../lifecycle/policy-impact.resolver';
import { ScopeResolver } from '../scopes/scope.resolver';
import { TenantResolver } from '../tenants/tenant.resolver';
import { TokenResolver } from '../tokens/token.resolver';
import { VerifyResolver } from '../verify/verify.resolver';
import type { Context } from './context';
import { DateTimeScalar } from '../platform/graphql-types';
import { rejectHostileArguments } from '../platform/hostile-input';

/** Every resolver of the API, wired to its service. */
export function createResolvers(s: Services): object[] {
  return [
    new AuditResolver(s.audit),
    new OwnerResolver(s.owners),
    new PolicyResolver(s.policies),
    new PolicyImpactResolver(s.policies, s.preview),
    new LifecycleResolver(s.preview, s.operations),
    new RoleResolver(s.roles),
    new OwnerRolesResolver(),
    new ScopeResolver(s.scopes),
    new TenantResolver(s.tenants),
    new TokenResolver(s.tokens, s.tokenStatus, s.tokenSettings, s.rotation),
    new VerifyResolver(s.verifier),
    new EventResolver(),
    new WebhookResolver(s.webhooks, s.webhookDispatch),
    new CredentialResolver(s),
  ];
}

export function buildLatchkeySchema(resolvers: object[]): GraphQLSchema {
  const byClass = new Map<Function, object>(resolvers.map((r) => [r.constructor, r]));
  return buildSchemaSync({
    resolvers: [...byClass.keys()] as [Function, ...Function[]],
    container: { get: (cls) => byClass.get(cls) },
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: { forbidUnknownValues: false },
    globalMiddlewares: [rejectHostileArguments],
    // Every subscription brings its own stream (`subscribe`), so type-graphql's topic pub/sub is
    // never used; the option is required all the same.
    pubSub: {
      publish: () => {
        throw new Error('topic pub/sub is not used');
      },
      subscribe: () => {
        throw new Error('topic pub/sub is not used');
      },
    },
    // Each resolver declares the permissions it needs; a missing one is a FORBIDDEN naming it.
    authChecker: ({ context }: { context: Context }, needed: Permission[]) => {
      requirePermission(context.principal, ...needed);
      return true;
    },
  });
}

/** The schema as SDL, types sorted: deterministic whatever order the code declares them in. */
export function printLatchkeySchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
