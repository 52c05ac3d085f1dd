// A real Latchkey API on a random port, in this test process, and a GraphQL client for it that
// sends a document written out in the test or one of test/documents.graphql, typed.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { inject } from 'vitest';
import { type Api, startApi } from '../../src/app/api';
import { type Container, createContainer } from '../../src/app/container';
import { loadConfig } from '../../src/platform/config';
import { createLogger } from '../../src/platform/logger';

export interface GqlResponse<T = any> {
  status: number;
  data?: T;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string; [k: string]: unknown } }>;
}

/** The variables of a typed document: none, optional, or required as its operation says. */
type VariablesOf<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

const printed = new WeakMap<object, string>();
const textOf = (query: string | TypedDocumentNode<unknown, unknown>): string => {
  if (typeof query === 'string') return query;
  let text = printed.get(query);
  if (text === undefined) printed.set(query, (text = print(query)));
  return text;
};

/** A GraphQL client of the Latchkey at `url` (an API of this process's, or one in a child process). */
export class GraphqlClient {
  constructor(private readonly at: () => string) {}

  gql<T, V>(
    token: string | null,
    query: TypedDocumentNode<T, V>,
    ...variables: VariablesOf<V>
  ): Promise<GqlResponse<T>>;
  gql<T = any>(token: string | null, query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>>;
  async gql<T = any>(
    token: string | null,
    query: string | TypedDocumentNode<T, unknown>,
    variables?: unknown,
  ): Promise<GqlResponse<T>> {
    const res = await fetch(`${this.at()}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: textOf(query), variables }),
    });
    const body = (await res.json()) as Omit<GqlResponse<T>, 'status'>;
    return { status: res.status, ...body };
  }

  /** The data of an operation that must succeed. */
  ok<T, V>(token: string, query: TypedDocumentNode<T, V>, ...variables: VariablesOf<V>): Promise<T>;
  ok<T = any>(token: string, query: string, variables?: Record<string, unknown>): Promise<T>;
  async ok<T = any>(token: string, query: string | TypedDocumentNode<T, unknown>, variables?: unknown): Promise<T> {
    const r = await this.gql<T>(token, textOf(query), variables as Record<string, unknown> | undefined);
    if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
    return r.data as T;
  }
}

export const graphqlAt = (url: string): GraphqlClient => new GraphqlClient(() => url);

export class TestApi extends GraphqlClient {
  constructor(
    readonly container: Container,
    readonly api: Api,
  ) {
    super(() => api.url);
  }

  get url(): string {
    return this.api.url;
  }

  /** Runs SQL directly against the test database, for checking what was (not) written. */
  sql<T = any>(text: string, params: unknown[] = []): Promise<T[]> {
    return this.container.ds.query(text, params);
  }

  async close(): Promise<void> {
    await this.api.stop();
    await this.container.close();
  }
}

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return { ...inject('env'), ...overrides };
}

export async function startTestApi(overrides: Record<string, string> = {}): Promise<TestApi> {
  const config = loadConfig(testEnv(overrides));
  const container = await createContainer(config, createLogger('silent'));
  return new TestApi(container, await startApi(container));
}

export const bootstrapToken = (): string => inject('bootstrapToken');

/** A response body as JSON, untyped: tests assert on its shape. */
export const jsonOf = async (res: Response): Promise<any> => res.json();

/** A process's /metrics, read by series: `name{label="value"}` as Prometheus prints it (0 when absent). */
export async function metricsOf(url: string): Promise<(series: string) => number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return (series) => values.get(series) ?? 0;
}

/** Polls until `read` returns something `done` accepts; for hooks, where expect.poll is not allowed. */
export async function waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() - started > ms) throw new Error(`gave up waiting after ${ms} ms (last value ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
