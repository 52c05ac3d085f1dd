// The API process: GraphQL over HTTP, REST for gateways, health and metrics.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { Context } from './context';
import { DomainError, retryAfterOf } from '../platform/errors';
import { formatError, toGraphQLError } from '../platform/graphql-errors';
import { operationLimits } from '../platform/graphql-limits';
import { ClientAddresses } from '../platform/http';
import { errorHandler, requestId } from '../http/express';
import { healthRoutes, metricsHandler } from '../http/health.routes';
import { withinMs } from '../platform/maybe-promise';
import { buildLatchkeySchema, createResolvers } from './schema';
import { GatewayRoutes } from '../http/gateway.routes';
import { auditRoutes } from '../http/audit.routes';
import { successorRoutes } from '../http/successor.routes';
import { CredentialRoutes } from '../http/credential.routes';
import type { Container } from './container';
import { createLoaders } from './loaders';
import { startWebSocket } from './websocket';

export interface Api {
  server: Server;
  url: string;
  /** Where /metrics answers: the main listener, or METRICS_LISTEN. */
  metricsUrl: string;
  stop(): Promise<void>;
}

export async function startApi(c: Container): Promise<Api> {
  const { config, log, services, metrics } = c;
  const production = config.nodeEnv === 'production';
  const schema = buildLatchkeySchema(createResolvers(services));

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  const gateway = new GatewayRoutes(
    services.verifier,
    log,
    (reason) => metrics.gatewayMisconfigured.inc({ reason }),
    metrics.requestSeconds,
  );
  const addresses = new ClientAddresses(config.trustedProxies);
  const credentials = new CredentialRoutes(
    services.reveals,
    services.verifier,
    addresses,
    metrics.requestSeconds('credentials'),
    log,
  );
  // The gateway path and credential reads are served before Express: they are what runs on every
  // request a gateway sees, and on every revalidation of a consumer.
  const server = createServer((req, res) => {
    if (!gateway.handle(req, res) && !credentials.handle(req, res)) app(req, res);
  });

  const ws = startWebSocket(c, server, schema, addresses, log);
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
      {
        // Time to answer by operation type (a document that never resolved to one: graphql_invalid).
        async requestDidStart() {
          const started = performance.now();
          return {
            async willSendResponse({ operation, errors, response }) {
              metrics
                .requestSeconds(`graphql_${operation?.operation ?? 'invalid'}`)
                .observe((performance.now() - started) / 1000);
              // A rate-limited field says when to come back in the header too, as every door does.
              const wait = errors?.map((e) => retryAfterOf(e.originalError)).find((n) => n !== undefined);
              if (wait) response.http.headers.set('retry-after', String(wait));
            },
          };
        },
      },
      ...(production ? [ApolloServerPluginLandingPageDisabled()] : []),
    ],
  });
  await apollo.start();

  app.use(requestId(log));
  app.use(healthRoutes(() => readiness(c)));
  const scrape = metricsHandler(c.metrics.registry, config.metrics.token);
  // With a listener of its own, /metrics is served there only.
  const metricsServer = config.metrics.listen ? createServer((req, res) => void scrape(req, res)) : null;
  if (!metricsServer) app.get('/metrics', (req, res) => void scrape(req, res));
  app.use(auditRoutes(c.ds, services.verifier, services.audit, services.signer, addresses));
  app.use(successorRoutes(services.successors, services.verifier, addresses));
  app.use(express.json({ limit: '1mb' }));
  app.use(
    '/graphql',
    expressMiddleware(apollo, {
      context: async ({ req }): Promise<Context> => {
        try {
          const clientIp = addresses.of(req);
          const principal = await services.verifier.authenticate(req.header('authorization'), clientIp);
          return {
            requestId: req.id,
            principal,
            loaders: createLoaders(services, principal.tenantId),
            log: req.log,
            clientIp,
          };
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
  const url = urlOf(config.host, port);
  log.info({ url }, 'API listening');
  let metricsUrl = `${url}/metrics`;
  if (metricsServer && config.metrics.listen) {
    const { host, port: wanted } = config.metrics.listen;
    await new Promise<void>((resolve, reject) => {
      metricsServer.once('error', reject);
      metricsServer.listen(wanted, host, () => resolve());
    });
    metricsUrl = `${urlOf(host, (metricsServer.address() as AddressInfo).port)}/metrics`;
    log.info({ url: metricsUrl }, 'metrics listening');
  }
  return {
    server,
    url,
    metricsUrl,
    async stop() {
      await apollo.stop(); // drains in-flight requests, then closes the server
      if (metricsServer) await new Promise((resolve) => metricsServer.close(resolve));
    },
  };
}

const urlOf = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

async function readiness(c: Container): Promise<Record<'postgres' | 'redis', boolean>> {
  const within = async (p: Promise<unknown>) =>
    (await withinMs(
      p.then(() => true),
      1_000,
    )) ?? false;
  const [postgres, redis] = await Promise.all([within(c.ds.query('SELECT 1')), within(c.redis.ping())]);
  return { postgres, redis };
}
