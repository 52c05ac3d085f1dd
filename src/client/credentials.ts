// The Node client for managed credentials, for the services that consume them (and the CLI):
// get(name) keeps an in-memory copy revalidated by ETag (a 304 is not a reveal), follow() drops
// copies the moment credentialChanged says a new version exists, and withCredential() retries a
// call once with a fresh value when the vendor refused the old one. Values stay in this process's
// memory only; nothing is written anywhere.
import type * as GraphQLWs from 'graphql-ws';
import type * as Ws from 'ws';

export interface CredentialValue {
  name: string;
  version: number;
  value: string;
  expiresAt: string | null;
  graceEndsAt: string | null;
  nextRotationAt: string | null;
}

export interface CredentialsClientOptions {
  /** The Latchkey server, e.g. https://latchkey.internal */
  url: string;
  /** The consumer's own Latchkey token (its owner must be granted on the credentials it reads). */
  token: string;
  /** How long a copy is used without asking the server (default 30 s); after that, If-None-Match. */
  maxAgeMs?: number;
}

export class CredentialError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

interface Copy {
  etag: string;
  value: CredentialValue;
  checkedAt: number;
}

export class CredentialsClient {
  private readonly copies = new Map<string, Copy>();
  private readonly url: string;
  private readonly maxAgeMs: number;

  constructor(private readonly options: CredentialsClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
  }

  /** The CURRENT value: from memory while fresh, else revalidated (304 keeps the copy), else fetched. */
  async get(name: string): Promise<CredentialValue> {
    const copy = this.copies.get(name);
    if (copy && Date.now() - copy.checkedAt < this.maxAgeMs) return copy.value;
    const res = await fetch(`${this.url}/v1/credentials/${encodeURIComponent(name)}`, {
      headers: { authorization: `Bearer ${this.options.token}`, ...(copy ? { 'if-none-match': copy.etag } : {}) },
    });
    if (res.status === 304 && copy) {
      copy.checkedAt = Date.now();
      return copy.value;
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      throw new CredentialError(
        `credential ${name}: ${body.error?.message ?? `answered ${res.status}`}`,
        res.status,
        body.error?.code ?? 'UNKNOWN',
      );
    }
    const value = (await res.json()) as CredentialValue;
    this.copies.set(name, { etag: res.headers.get('etag') ?? '', value, checkedAt: Date.now() });
    return value;
  }

  /** Forgets the copy: the next get() asks the server. */
  invalidate(name: string): void {
    this.copies.delete(name);
  }

  /**
   * Runs `call` with the value; if `refused` says the vendor turned it down (a 401 from the CRM,
   * say), asks the server again and retries once, with a newer version if there is one.
   */
  async withCredential<T>(
    name: string,
    call: (value: string) => Promise<T>,
    refused: (err: unknown) => boolean,
  ): Promise<T> {
    const first = await this.get(name);
    try {
      return await call(first.value);
    } catch (err) {
      if (!refused(err)) throw err;
      const copy = this.copies.get(name);
      if (copy) copy.checkedAt = 0; // revalidate now
      const fresh = await this.get(name);
      return call(fresh.value);
    }
  }

  /**
   * Follows credentialChanged for these names over WebSocket (the token must be a CONTROL token
   * of a granted owner): each change drops the copy, then `onChange` runs. Returns a stop function.
   */
  follow(
    names: string[],
    onChange: (change: { kind: string; name: string; version: number }) => void = () => undefined,
    onError: (err: unknown) => void = () => undefined,
  ): () => void {
    // Loaded here, not at the top: get() needs no WebSocket, and the command line starts faster.
    const { createClient } = require('graphql-ws') as typeof GraphQLWs;
    const WebSocket = require('ws') as typeof Ws;
    const ws = createClient({
      url: `${this.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.options.token}` },
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => true,
    });
    const unsubscribe = ws.subscribe<{ credentialChanged: { kind: string; name: string; version: number } }>(
      {
        query: `subscription($names: [String!]) { credentialChanged(names: $names) { kind name version } }`,
        variables: { names },
      },
      {
        next: ({ data }) => {
          if (!data) return;
          this.invalidate(data.credentialChanged.name);
          onChange(data.credentialChanged);
        },
        error: onError,
        complete: () => undefined,
      },
    );
    return () => {
      unsubscribe();
      void ws.dispose();
    };
  }
}
