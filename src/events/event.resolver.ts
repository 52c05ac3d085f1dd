import { Arg, Authorized, ID, Int, Resolver, Root, Subscription } from 'type-graphql';
import { AuditEvent } from '../audit/audit-event.entity';
import { requirePermission } from '../iam/principal';
import { Permission } from '../iam/permissions';
import type { EventContext } from './event.context';
import { DurationScalar } from '../platform/duration';
import { badInput, forbidden } from '../platform/errors';
import { JSONObjectScalar } from '../platform/graphql-types';
import { CredentialChange, ExpiringTokensUpdate, TokenLifecycleEvent, TokenLifecycleKind } from './event.types';

interface SubscribeData<A> {
  args: A;
  context: EventContext;
}

// Subscriptions answer with the value their stream produced: the resolvers only hand it on. The
// streams come from the WebSocket connection's context (the `subscribe` functions have no `this`).
// Permissions are checked when subscribing, and again for every event against the principal as it
// is then (roles can change while connected).
@Resolver()
export class EventResolver {
  @Authorized(Permission.AUDIT_READ)
  @Subscription(() => AuditEvent, {
    name: 'auditEvents',
    description: 'Replays events after afterSeq first, then streams new ones, in seq order.',
    subscribe: ({ args, context }: SubscribeData<{ afterSeq?: number | null; actions?: string[] | null }>) => {
      requirePermission(context.principal, Permission.AUDIT_READ);
      return context.events!.service.auditEvents(context.events!.principal, args.afterSeq, args.actions);
    },
  })
  auditEventStream(
    @Root() event: AuditEvent,
    @Arg('afterSeq', () => Int, { nullable: true }) _afterSeq?: number,
    @Arg('actions', () => [String], { nullable: true }) _actions?: string[],
  ): AuditEvent {
    return event;
  }

  @Subscription(() => CredentialChange, {
    name: 'credentialChanged',
    description:
      'New versions, retirements and vendor expiries of the named credentials, live; with afterSeq, first what happened since. Open to CREDENTIAL_READ, or to owners granted on every credential named.',
    subscribe: async ({ args, context }: SubscribeData<{ names?: string[] | null; afterSeq?: number | null }>) => {
      const p = context.principal;
      let granted: Set<string> | null = null;
      if (!p.permissions.has(Permission.CREDENTIAL_READ)) {
        if (!args.names?.length)
          throw forbidden('name the credentials to follow, or hold CREDENTIAL_READ', { argument: 'names' });
        granted = await context.events!.grantedCredentials(p);
        const missing = args.names.filter((n) => !granted!.has(n));
        if (missing.length)
          throw forbidden(`no grant to read credential ${missing[0]} (or no such credential in this tenant)`, {
            argument: 'names',
          });
      }
      return context.events!.service.credentialChanges(context.events!.principal, args.names, granted, args.afterSeq);
    },
  })
  credentialChanged(
    @Root() change: CredentialChange,
    @Arg('names', () => [String], { nullable: true }) _names?: string[],
    @Arg('afterSeq', () => Int, { nullable: true }) _afterSeq?: number,
  ): CredentialChange {
    return change;
  }

  @Authorized(Permission.TOKEN_READ)
  @Subscription(() => TokenLifecycleEvent, {
    name: 'tokenLifecycle',
    description:
      'Issued, expiring, rotated, expired and revoked tokens, live; with afterSeq, first what happened since.',
    subscribe: ({
      args,
      context,
    }: SubscribeData<{
      kinds?: TokenLifecycleKind[] | null;
      ownerId?: string | null;
      labels?: Record<string, unknown> | null;
      scope?: string | null;
      afterSeq?: number | null;
    }>) => {
      requirePermission(context.principal, Permission.TOKEN_READ);
      if (args.labels && Object.values(args.labels).some((v) => typeof v !== 'string'))
        throw badInput('labels must map names to strings', { argument: 'labels' });
      return context.events!.service.tokenLifecycle(context.events!.principal, args, args.afterSeq);
    },
  })
  tokenLifecycle(
    @Root() event: TokenLifecycleEvent,
    @Arg('kinds', () => [TokenLifecycleKind], { nullable: true }) _kinds?: TokenLifecycleKind[],
    @Arg('ownerId', () => ID, { nullable: true }) _ownerId?: string,
    // A JSON scalar has nothing for class-validator to check, and an inline literal is an object
    // without a prototype, on which class-validator throws: the resolver checks it instead.
    @Arg('labels', () => JSONObjectScalar, {
      nullable: true,
      validate: false,
      description: 'Only tokens whose labels contain all of these.',
    })
    _labels?: Record<string, unknown>,
    @Arg('scope', () => String, { nullable: true, description: 'Only tokens carrying this scope.' }) _scope?: string,
    @Arg('afterSeq', () => Int, { nullable: true }) _afterSeq?: number,
  ): TokenLifecycleEvent {
    return event;
  }

  @Authorized(Permission.TOKEN_READ)
  @Subscription(() => ExpiringTokensUpdate, {
    name: 'expiringTokens',
    description: 'A live "expiring soon" list: the current list first, then again whenever it changes.',
    subscribe: ({ args, context }: SubscribeData<{ within: number }>) => {
      requirePermission(context.principal, Permission.TOKEN_READ);
      if (args.within <= 0 || args.within > 366 * 86_400)
        throw badInput('within must be from PT1S to P366D', { argument: 'within' });
      return context.events!.service.expiringTokens(context.events!.principal, args.within);
    },
  })
  expiringTokens(
    @Root() update: ExpiringTokensUpdate,
    @Arg('within', () => DurationScalar) _within: number,
  ): ExpiringTokensUpdate {
    return update;
  }
}
