// A real graphql-ws client for tests, collecting what a subscription receives.
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface Subscription<T> {
  received: T[];
  errors: unknown[];
  completed: boolean;
  /** Resolves once `predicate` holds for what was received, or rejects after `ms`. */
  until(predicate: (received: T[]) => boolean, ms?: number): Promise<T[]>;
  stop(): void;
}

export interface WsClient {
  client: Client;
  /** Close code and reason, once the server closed the socket. */
  closed: Promise<{ code: number; reason: string }>;
  subscribe<T = any>(query: string, variables?: Record<string, unknown>): Subscription<T>;
  dispose(): Promise<void>;
}

export function wsClient(httpUrl: string, token: string): WsClient {
  let closedResolve!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (closedResolve = r));
  const client = createClient({
    url: `${httpUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => undefined, // the close is what the tests look at
    on: {
      closed: (e) =>
        closedResolve({ code: (e as { code: number }).code, reason: String((e as { reason: string }).reason) }),
    },
  });
  return {
    client,
    closed,
    subscribe<T>(query: string, variables?: Record<string, unknown>): Subscription<T> {
      const sub: Subscription<T> = {
        received: [],
        errors: [],
        completed: false,
        until(predicate, ms = 10_000) {
          return new Promise((resolve, reject) => {
            const started = Date.now();
            const check = () => {
              if (predicate(sub.received)) return resolve(sub.received);
              if (sub.errors.length) return reject(new Error(`subscription failed: ${JSON.stringify(sub.errors)}`));
              if (Date.now() - started > ms) return reject(new Error(`timed out with ${sub.received.length} received`));
              setTimeout(check, 10);
            };
            check();
          });
        },
        stop: () => unsubscribe(),
      };
      const unsubscribe = client.subscribe<T>(
        { query, variables },
        {
          next: (v) => {
            if (v.errors) sub.errors.push(...v.errors);
            else sub.received.push(v.data as T);
          },
          error: (e) => sub.errors.push(e),
          complete: () => (sub.completed = true),
        },
      );
      return sub;
    },
    dispose: () => client.dispose() as Promise<void>,
  };
}
