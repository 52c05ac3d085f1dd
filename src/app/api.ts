// The API process: GraphQL over HTTP, REST for gateways, health and metrics.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { Context } from '../platform/context';
import { DomainError, formatError, toGraphQLError } from '../platform/errors';
import { operationLimits } from '../platform/graphql-limits';
import { errorHandler, requestId } from '../platform/http';
import { buildLatchkeySchema, createResolvers } from '../platform/schema';
import { GatewayRoutes } from '../verify/gateway.routes';
import { auditRoutes } from '../audit/audit.routes';
import { successorRoutes } from '../lifecycle/successor';
import type { Container } from './container';
import { createLoaders } from './loaders';
import { startWebSocket } from './websocket';

export interface Api {
  server: Server;
  url: string;
  stop(): Promise<void>;
}

export async function startApi(c: Container): Promise<Api> {
  const { config, log, services, metrics } = c;
  const production = config.nodeEnv === 'production';
  const schema = buildLatchkeySchema(createResolvers(services));

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  const gateway = new GatewayRoutes(services.verifier, log, (reason) => metrics.gatewayMisconfigured.inc({ reason }));
  // The gateway path is served before Express: it is what runs on every request a gateway sees.
  const server = createServer((req, res) => {
    if (!gateway.handle(req, res)) app(req, res);
  });

  const ws = startWebSocket(c, server, schema, log);
  const apollo = new ApolloServer<Context>({
    schema,
    introspection: !production,
    hideSchemaDetailsFromClientErrors: production,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    stopOnTerminationSignals: false, // main.ts owns shutdown
    validationRules: [operationLimits(config.graphql)],
    formatError: (formatted, error) => formatError(formatted, error, log),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      { serverWillStart: async () => ({ drainServer: () => ws.dispose() }) },
      ...(production ? [ApolloServerPluginLandingPageDisabled()] : []),
    ],
  });
  await apollo.start();

  app.use(requestId(log));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = await readiness(c);
    const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([name]) => name);
    res.status(failed.length ? 503 : 200).json({ status: failed.length ? 'unavailable' : 'ok', failed, checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(auditRoutes(c.ds, services.verifier, services.audit, services.signer));
  app.use(successorRoutes(services.successors, log));
  app.use(express.json({ limit: '1mb' }));
  app.use(
    '/graphql',
    expressMiddleware(apollo, {
      context: async ({ req }): Promise<Context> => {
        try {
          const principal = await services.verifier.authenticate(req.header('authorization'), req.socket.remoteAddress);
          return { requestId: req.id, principal, loaders: createLoaders(services, principal.tenantId), log: req.log };
        } catch (e) {
          throw e instanceof DomainError ? toGraphQLError(e) : e;
        }
      },
    }),
  );
  app.use(errorHandler);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url }, 'API listening');
  return {
    server,
    url,
    async stop() {
      await apollo.stop(); // drains in-flight requests, then closes the server
    },
  };
}

async function readiness(c: Container): Promise<Record<'postgres' | 'redis', boolean>> {
  const within = <T>(p: Promise<T>) =>
    Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1_000).unref())]).catch(() => false);
  const [postgres, redis] = await Promise.all([within(c.ds.query('SELECT 1')), within(c.redis.ping())]);
  return { postgres, redis };
}
