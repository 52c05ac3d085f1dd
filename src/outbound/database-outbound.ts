// Outbound Postgres and Redis connections (the built-in rotators): the URL parsed here, its host
// resolved and judged by the address rules, the driver connected to exactly that address (the TLS
// server name kept), the whole connection and its work under one deadline, what the server sends
// capped, and every failure said as a category (OutboundFailure), never the driver's words.
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import type { AddressRules } from './address-rules';
import { parsePostgresUrl, parseRedisUrl, type ServerTarget } from './connection-urls';
import { onAbort, withinDeadline } from './deadline';
import { failure } from './failure';

/** A rotator's commands get short answers; a server sending more is not one to keep reading. */
const MAX_RECEIVED_BYTES = 1024 * 1024;

function capReceived(stream: Duplex): void {
  let received = 0;
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_RECEIVED_BYTES) stream.destroy(new Error('the server sent more than a rotator needs'));
  });
}

export type ConnectionKind = 'POSTGRES' | 'REDIS';

export class DatabaseOutbound {
  constructor(
    private readonly rules: AddressRules,
    readonly deadlineMs: number,
  ) {}

  /** Checks a connection URL without connecting: its form, then its address. Throws OutboundRefused. */
  async check(kind: ConnectionKind, value: string): Promise<void> {
    const target: ServerTarget = kind === 'POSTGRES' ? parsePostgresUrl(value) : parseRedisUrl(value);
    await withinDeadline(this.deadlineMs, () => this.rules.vet(target.host, target.port));
  }

  /** Runs `work` on a Postgres connection that is always closed, whatever happens. Throws OutboundFailure. */
  async postgres<T>(value: string, work: (client: Client) => Promise<T>): Promise<T> {
    let connected = false;
    try {
      return await withinDeadline(this.deadlineMs, async (signal) => {
        const target = parsePostgresUrl(value);
        const { address } = await this.rules.vet(target.host, target.port);
        signal.throwIfAborted();
        const socket = new Socket();
        capReceived(socket);
        onAbort(signal, () => socket.destroy());
        const client = new Client({
          ...{
            host: address,
            port: target.port,
            user: target.user,
            database: target.database,
            application_name: target.applicationName,
          },
          // A function, so that pg never looks for a password elsewhere (PGPASSWORD, ~/.pgpass).
          password: () => target.password,
          ssl: target.tls,
          stream: () => socket,
        });
        client.on('error', () => undefined); // reported through the call's own rejection
        client.connection.on('sslconnect', () => capReceived(client.connection.stream));
        try {
          await client.connect();
          connected = true;
          return await work(client);
        } finally {
          void client.end().catch(() => undefined);
          // A server that does not close after the goodbye is let go of anyway.
          setTimeout(() => socket.destroy(), 1_000).unref();
        }
      });
    } catch (err) {
      throw failure(err, connected);
    }
  }

  /** Runs `work` on a Redis connection that is always closed, whatever happens. Throws OutboundFailure. */
  async redis<T>(value: string, work: (redis: Redis) => Promise<T>): Promise<T> {
    let connected = false;
    // ioredis reports a refused AUTH as an 'error' event and rejects connect() with "Connection is closed".
    let reported: unknown;
    try {
      return await withinDeadline(this.deadlineMs, async (signal) => {
        const target = parseRedisUrl(value);
        const { address } = await this.rules.vet(target.host, target.port);
        signal.throwIfAborted();
        const redis = new Redis({
          ...{ host: address, port: target.port, username: target.username, password: target.password, db: target.db },
          ...(target.tls ? { tls: target.tls } : {}),
          ...{
            lazyConnect: true,
            maxRetriesPerRequest: 0,
            enableOfflineQueue: false,
            retryStrategy: () => null,
            reconnectOnError: () => false,
          },
        });
        redis.on('error', (err) => (reported ??= err));
        redis.on('connect', () => capReceived(redis.stream));
        onAbort(signal, () => {
          redis.stream?.destroy();
          redis.disconnect();
        });
        try {
          await redis.connect().catch((err) => {
            throw reported ?? err;
          });
          connected = true;
          return await work(redis);
        } finally {
          redis.disconnect();
        }
      });
    } catch (err) {
      throw failure(err, connected);
    }
  }
}
