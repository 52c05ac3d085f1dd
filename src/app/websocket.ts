// GraphQL over WebSocket (graphql-ws) on /graphql: subscriptions, authenticated by the
// connection's `authorization` parameter. A connection whose token stops verifying is closed
// with 4403 (see LiveConnections); a connect refused for too many unknown credentials from its
// address, with 4429.
import type { Server } from 'node:http';
import {
  type GraphQLError,
  type GraphQLSchema,
  NoSchemaIntrospectionCustomRule,
  specifiedRules,
  validate,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import { CLOSE_RATE_LIMITED, type LiveConnection, LiveConnections } from '../events/live-connections';
import type { Context } from './context';
import { DomainError, ErrorCode } from '../platform/errors';
import { formatError } from '../platform/graphql-errors';
import type { ClientAddresses } from '../platform/http';
import { audienceOf, sharedSubscribe } from '../events/shared-execution';
import { operationLimits } from '../platform/graphql-limits';
import { bearer } from '../platform/http';
import { validUntil } from '../verify/verdict';
import type { Container } from './container';
import { createLoaders } from './loaders';

type Extra = {
  live?: LiveConnection;
};

export function startWebSocket(
  c: Container,
  server: Server,
  schema: GraphQLSchema,
  addresses: ClientAddresses,
  log: Logger,
): { dispose(): Promise<void> } {
  const { services, config } = c;
  const connections = new LiveConnections(services.verifier, services.bus, log);
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: 1024 * 1024 });
  const rules = [
    ...specifiedRules,
    operationLimits(config.graphql),
    ...(config.nodeEnv === 'production' ? [NoSchemaIntrospectionCustomRule] : []),
  ];
  const format = (errors: readonly GraphQLError[]) => errors.map((e) => formatError(e.toJSON(), e, log));

  const cleanup = useServer<Record<string, unknown>, Extra>(
    {
      schema,
      validate: (s, document) => validate(s, document, rules),
      onConnect: async (ctx) => {
        const secret = bearer(
          typeof ctx.connectionParams?.authorization === 'string' ? ctx.connectionParams.authorization : undefined,
        );
        if (!secret) return false; // closes with 4403 Forbidden
        try {
          const principal = await services.verifier.authenticateSecret(secret, addresses.of(ctx.extra.request));
          const hash = services.verifier.hashOf(secret);
          const { record } = await services.verifier.recheck(hash);
          const live: LiveConnection = {
            socket: ctx.extra.socket,
            hash,
            principal,
            clientIp: addresses.of(ctx.extra.request),
          };
          connections.add(live, validUntil(record));
          ctx.extra.socket.once('close', () => connections.remove(live));
          ctx.extra.live = live;
          return true;
        } catch (err) {
          // Too many unknown credentials from this address: retryable, and said so (4429 and the wait),
          // where a refused credential is 4403 for good.
          if (err instanceof DomainError && err.code === ErrorCode.RATE_LIMITED) {
            ctx.extra.socket.close(
              CLOSE_RATE_LIMITED,
              `rate limited; retry in ${Number(err.details.retryAfter ?? 1)} s`,
            );
          }
          return false;
        }
      },
      context: (ctx): Context => {
        const live = ctx.extra.live!;
        return {
          requestId: `ws:${live.principal.tokenId}`,
          principal: live.principal,
          clientIp: live.clientIp,
          loaders: createLoaders(services, live.principal.tenantId, { cache: false }),
          log,
          events: {
            service: services.events,
            principal: () => live.principal,
            grantedCredentials: (p) => services.credentialGrants.grantedNames(p.tenantId, p.ownerId),
          },
        };
      },
      subscribe: (args) => sharedSubscribe(args, audienceOf(args.contextValue as Context), c.metrics),
      onError: (_ctx, _id, _payload, errors) => format(errors),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: format(result.errors as GraphQLError[]) } : result,
    },
    wss,
  );

  return {
    async dispose() {
      await cleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
