// The command line's only way to Latchkey: GraphQL over HTTP (and graphql-ws for tails), with
// typed documents generated from the schema. Errors become CliErrors with a distinct exit code.
// graphql's printer and the WebSocket libraries are required on first use, not when the command
// line starts: --help and --version need neither (a dynamic import() would load their ESM builds).
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type * as Printer from 'graphql/language/printer';
import type * as GraphQLWs from 'graphql-ws';
import type * as Ws from 'ws';
import { CliError, ExitCode } from './errors';

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

const EXIT_BY_CODE: Record<string, ExitCode> = {
  UNAUTHENTICATED: ExitCode.AUTH,
  FORBIDDEN: ExitCode.FORBIDDEN,
  NOT_FOUND: ExitCode.NOT_FOUND,
  BAD_USER_INPUT: ExitCode.INVALID,
  CONFLICT: ExitCode.INVALID,
};

export class LatchkeyClient {
  private readonly printed = new WeakMap<object, string>();

  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  async request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables?: V): Promise<R> {
    let res: Response;
    try {
      res = await fetch(`${this.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query: this.text(document), variables }),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw new CliError(
        `cannot reach Latchkey at ${this.url}: ${(err as Error).cause ?? (err as Error).message}`,
        ExitCode.UNAVAILABLE,
      );
    }
    let body: GraphQLResponse<R>;
    try {
      body = (await res.json()) as GraphQLResponse<R>;
    } catch {
      throw new CliError(
        `${this.url}/graphql answered ${res.status} without GraphQL: is this a Latchkey server?`,
        ExitCode.SERVER,
      );
    }
    const error = body.errors?.[0];
    if (error) {
      const code = error.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
      const hint = code === 'UNAUTHENTICATED' ? ' (check LATCHKEY_TOKEN)' : '';
      throw new CliError(`${error.message}${hint}`, EXIT_BY_CODE[code] ?? ExitCode.SERVER, code);
    }
    if (!body.data) throw new CliError(`${this.url}/graphql answered ${res.status} with no data`, ExitCode.SERVER);
    return body.data;
  }

  /** Follows a subscription until the connection ends; `next` sees each result. */
  subscribe<R, V extends Record<string, unknown>>(
    document: TypedDocumentNode<R, V>,
    variables: V,
    next: (data: R) => void,
  ): Promise<void> {
    const { createClient } = require('graphql-ws') as typeof GraphQLWs;
    const WebSocket = require('ws') as typeof Ws;
    const client = createClient({
      url: `${this.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.token}` },
      retryAttempts: 0,
    });
    return new Promise<void>((resolve, reject) => {
      client.subscribe<R>(
        { query: this.text(document), variables },
        {
          next: (r) => {
            if (r.errors?.length) {
              const code = (r.errors[0]!.extensions as { code?: string } | undefined)?.code ?? 'INTERNAL_SERVER_ERROR';
              reject(new CliError(r.errors[0]!.message, EXIT_BY_CODE[code] ?? ExitCode.SERVER, code));
            } else if (r.data) next(r.data);
          },
          error: (err) => {
            const close = err as { code?: number; reason?: string };
            if (close?.code === 4403 || close?.code === 4401)
              reject(
                new CliError(
                  `the subscription was refused: ${close.reason || 'not authenticated'} (check LATCHKEY_TOKEN)`,
                  ExitCode.AUTH,
                ),
              );
            else
              reject(
                new CliError(
                  `the subscription ended: ${close?.reason || (err as Error).message || 'connection lost'}`,
                  ExitCode.UNAVAILABLE,
                ),
              );
          },
          complete: resolve,
        },
      );
    }).finally(() => client.dispose());
  }

  /** Every page of a connection. */
  async *pages<N>(
    fetchPage: (
      after: string | null,
    ) => Promise<{ pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: N }> }>,
  ): AsyncGenerator<N> {
    let after: string | null = null;
    for (;;) {
      const page = await fetchPage(after);
      for (const e of page.edges) yield e.node;
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return;
      after = page.pageInfo.endCursor;
    }
  }

  private text(document: object): string {
    let t = this.printed.get(document);
    if (!t) {
      const { print } = require('graphql/language/printer') as typeof Printer;
      this.printed.set(document, (t = print(document as never)));
    }
    return t;
  }
}
