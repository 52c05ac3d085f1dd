// Rotators: who makes, installs, checks and switches to a credential's next value, in AWS Secrets
// Manager's four steps. Each step may run again (a retried job, a worker killed mid-step) and must
// come to the same end. Three kinds:
// - WEBHOOK: an HTTPS endpoint the team runs, called once per step, signed as Standard Webhooks;
//   its answer to `create` is {"value": "..."}, sealed at once.
// - POSTGRES: two login roles used in turn; `set` gives the idle one a new password, so the role
//   in use keeps working through the grace, and retiring it scrambles its password.
// - REDIS: an ACL user holds both passwords through the grace; retiring the old one removes it.
// Built-in rotators connect with a privileged connection that is itself a managed credential.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import type { RotationStep } from './credential.entity';
import { webhookHeaders } from '../webhooks/signature';
import type { Outbound } from '../webhooks/outbound';

export interface RotationContext {
  rotationId: string;
  name: string;
  /** The value in use now. */
  current: string;
  /** The PENDING value (after `create`). */
  pending?: string;
  pendingVersion: number;
  /** The privileged connection's value, for built-in rotators. */
  connection?: string;
}

export interface Rotator {
  create(ctx: RotationContext): Promise<string>;
  set(ctx: RotationContext): Promise<void>;
  test(ctx: RotationContext): Promise<void>;
  finish(ctx: RotationContext): Promise<void>;
  /** Before a replaced value is destroyed at the end of its grace: make the system refuse it. */
  retire(old: string, current: string, connection: string | undefined): Promise<void>;
}

/** A step's failure, said without values: the step and what the rotator answered. */
export class RotatorError extends Error {}

const password = () => randomBytes(24).toString('base64url');
const MAX_ANSWER = 64 * 1024;

export class WebhookRotator implements Rotator {
  constructor(
    private readonly outbound: Outbound,
    private readonly url: string,
    private readonly secret: string,
  ) {}

  private async call(step: RotationStep, ctx: RotationContext, withValue: boolean): Promise<string> {
    const body = JSON.stringify({
      type: 'credential.rotation',
      step,
      rotationId: ctx.rotationId,
      credential: ctx.name,
      version: ctx.pendingVersion,
      ...(withValue ? { value: ctx.pending } : {}),
    });
    // The same message id for every attempt of a step: the rotator can tell a retry from a new call.
    const headers = webhookHeaders([this.secret], `rot_${ctx.rotationId}_${step}`, Math.floor(Date.now() / 1000), body);
    let res;
    try {
      res = await this.outbound.post(this.url, headers, body);
    } catch (err) {
      throw new RotatorError(`${step}: ${(err as Error).message}`);
    }
    if (res.status < 200 || res.status >= 300) throw new RotatorError(`${step}: the rotator answered ${res.status}`);
    return res.body;
  }

  async create(ctx: RotationContext): Promise<string> {
    const answer = await this.call('create', ctx, false);
    let value: unknown;
    try {
      value = (JSON.parse(answer) as { value?: unknown }).value;
    } catch {
      throw new RotatorError('create: the rotator did not answer JSON');
    }
    if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > MAX_ANSWER) {
      throw new RotatorError('create: the answer holds no "value" of 1 byte to 64 KiB');
    }
    return value;
  }

  async set(ctx: RotationContext): Promise<void> {
    await this.call('set', ctx, true);
  }

  async test(ctx: RotationContext): Promise<void> {
    await this.call('test', ctx, true);
  }

  async finish(ctx: RotationContext): Promise<void> {
    await this.call('finish', ctx, false);
  }

  async retire(): Promise<void> {
    // The team's rotator revokes old values in its own `finish` or on its own schedule.
  }
}

function connectionUrl(value: string, what: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new RotatorError(`${what} is not a connection URL`);
  }
}

/** Runs `work` on a connection that is always closed, whatever happens. */
async function withPg<T>(url: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export class PostgresRotator implements Rotator {
  constructor(private readonly roles: readonly [string, string]) {}

  async create(ctx: RotationContext): Promise<string> {
    const url = connectionUrl(ctx.current, 'the current value');
    const inUse = decodeURIComponent(url.username);
    const next = this.roles.find((r) => r !== inUse) ?? this.roles[0];
    url.username = encodeURIComponent(next);
    url.password = password();
    return url.toString();
  }

  async set(ctx: RotationContext): Promise<void> {
    const url = connectionUrl(ctx.pending!, 'the pending value');
    await withPg(ctx.connection!, async (c) => {
      await c.query(`ALTER ROLE ${c.escapeIdentifier(decodeURIComponent(url.username))} WITH LOGIN PASSWORD ${c.escapeLiteral(decodeURIComponent(url.password))}`);
    }).catch((err) => {
      throw err instanceof RotatorError ? err : new RotatorError(`set: ${(err as Error).message}`);
    });
  }

  async test(ctx: RotationContext): Promise<void> {
    await withPg(ctx.pending!, (c) => c.query('SELECT 1')).catch((err) => {
      throw new RotatorError(`test: a connection with the new value failed: ${(err as Error).message}`);
    });
  }

  async finish(): Promise<void> {}

  async retire(old: string, current: string, connection: string | undefined): Promise<void> {
    const role = decodeURIComponent(connectionUrl(old, 'the retired value').username);
    if (role === decodeURIComponent(connectionUrl(current, 'the current value').username)) return;
    await withPg(connection!, async (c) => {
      await c.query(`ALTER ROLE ${c.escapeIdentifier(role)} WITH PASSWORD ${c.escapeLiteral(password())}`);
    });
  }
}

async function withRedis<T>(url: string, work: (r: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 5_000, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => undefined); // reported through the command's own rejection
  try {
    await redis.connect();
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

export class RedisRotator implements Rotator {
  async create(ctx: RotationContext): Promise<string> {
    const url = connectionUrl(ctx.current, 'the current value');
    url.password = password();
    return url.toString();
  }

  async set(ctx: RotationContext): Promise<void> {
    const url = connectionUrl(ctx.pending!, 'the pending value');
    await withRedis(ctx.connection!, (r) => r.call('ACL', 'SETUSER', decodeURIComponent(url.username), 'on', `>${decodeURIComponent(url.password)}`)).catch((err) => {
      throw new RotatorError(`set: ${(err as Error).message}`);
    });
  }

  async test(ctx: RotationContext): Promise<void> {
    await withRedis(ctx.pending!, (r) => r.ping()).catch((err) => {
      throw new RotatorError(`test: a connection with the new value failed: ${(err as Error).message}`);
    });
  }

  async finish(): Promise<void> {}

  async retire(old: string, current: string, connection: string | undefined): Promise<void> {
    // Only the current password from now on: the same command however often it runs.
    const now = connectionUrl(current, 'the current value');
    if (connectionUrl(old, 'the retired value').password === now.password) return;
    await withRedis(connection!, (r) => r.call('ACL', 'SETUSER', decodeURIComponent(now.username), 'resetpass', `>${decodeURIComponent(now.password)}`));
  }
}
