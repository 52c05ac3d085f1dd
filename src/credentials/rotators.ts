// Rotators: who makes, installs, checks and switches to a credential's next value, in AWS Secrets
// Manager's four steps. Each step may run again (a retried job, a worker killed mid-step) and must
// come to the same end. Three kinds:
// - WEBHOOK: an HTTPS endpoint the team runs, called once per step, signed as Standard Webhooks;
//   its answer to `create` is {"value": "..."}, sealed at once.
// - POSTGRES: two login roles used in turn; `set` gives the idle one a new password, so the role
//   in use keeps working through the grace, and retiring it scrambles its password.
// - REDIS: an ACL user holds both passwords through the grace; retiring the old one removes it.
// Built-in rotators connect with a privileged connection that is itself a managed credential,
// opened (and audited as used) only by the steps that need it. Every connection goes through
// src/outbound; a failure says the step and a category, never what a driver or server said.
import { randomBytes } from 'node:crypto';
import type { RotationStep } from './credential.entity';
import { OutboundRefused } from '../outbound/address-rules';
import { parsePostgresUrl, parseRedisUrl, serverOf } from '../outbound/connection-urls';
import type { DatabaseOutbound } from '../outbound/database-outbound';
import { categoryOf } from '../outbound/failure';
import type { HttpOutbound } from '../outbound/http-outbound';
import { webhookHeaders } from '../outbound/signature';

export type RotatorStep = RotationStep | 'retire';

export interface RotationContext {
  rotationId: string;
  name: string;
  /** The value in use now. */
  current: string;
  /** The PENDING value (after `create`). */
  pending?: string;
  pendingVersion: number;
}

/** Opens the privileged connection's value for a step of a built-in rotator, recording the use. */
export type OpenConnection = () => Promise<string>;

export interface Rotator {
  create(ctx: RotationContext): Promise<string>;
  set(ctx: RotationContext, connection: OpenConnection): Promise<void>;
  test(ctx: RotationContext): Promise<void>;
  finish(ctx: RotationContext): Promise<void>;
  /** Before a replaced value is destroyed at the end of its grace: make the system refuse it. */
  retire(old: string, current: string, connection: OpenConnection): Promise<void>;
}

/** A step's failure, said without values: the step, and a category or what a webhook rotator answered. */
export class RotatorError extends Error {
  override name = 'RotatorError';
  constructor(
    readonly step: RotatorStep,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${step}: ${reason}`, options);
  }
}

/**
 * The privileged connection's value, refused unless `values` point at the same server: a value
 * rewritten to another host (by someone who may write but not read it) must not receive a new
 * password, nor a connection rewritten elsewhere the statement that sets one.
 */
async function onSameServer(
  step: RotatorStep,
  kind: 'POSTGRES' | 'REDIS',
  connection: OpenConnection,
  ...values: string[]
): Promise<string> {
  const conn = await connection();
  let same: boolean;
  try {
    const server = serverOf(kind, conn);
    same = values.every((v) => serverOf(kind, v) === server);
  } catch {
    same = false;
  }
  if (!same) throw new RotatorError(step, 'refused: the value points at another server than its privileged connection');
  return conn;
}

/** Runs a step's work, saying any failure as a RotatorError of that step. */
async function step<T>(name: RotatorStep, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw err instanceof RotatorError ? err : new RotatorError(name, categoryOf(err, true), { cause: err });
  }
}

const password = () => randomBytes(24).toString('base64url');
const MAX_VALUE = 64 * 1024;
/** The most of a `create` answer read: a 64 KiB value with every character escaped (\u00XX) takes 384 KiB. */
const MAX_ANSWER = 512 * 1024;

export class WebhookRotator implements Rotator {
  constructor(
    private readonly outbound: HttpOutbound,
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
      res = await this.outbound.post(this.url, headers, body, MAX_ANSWER);
    } catch (err) {
      throw new RotatorError(step, categoryOf(err, false), { cause: err });
    }
    if (res.status < 200 || res.status >= 300) throw new RotatorError(step, `the rotator answered ${res.status}`);
    if (res.truncated) throw new RotatorError(step, `the answer is longer than ${MAX_ANSWER / 1024} KiB`);
    return res.body;
  }

  async create(ctx: RotationContext): Promise<string> {
    const answer = await this.call('create', ctx, false);
    let value: unknown;
    try {
      value = (JSON.parse(answer) as { value?: unknown }).value;
    } catch {
      throw new RotatorError('create', 'the rotator did not answer JSON');
    }
    if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > MAX_VALUE) {
      throw new RotatorError('create', 'the answer holds no "value" of 1 byte to 64 KiB');
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

/** A value as a URL to change, checked against the same form rules every connection follows. */
function connectionUrl(step: RotatorStep, value: string, check: (value: string) => unknown): URL {
  try {
    check(value);
  } catch (err) {
    throw new RotatorError(step, err instanceof OutboundRefused ? 'refused by address rules' : 'failed');
  }
  return new URL(value);
}

const pgUrl = (step: RotatorStep, value: string) => connectionUrl(step, value, parsePostgresUrl);
const redisUrl = (step: RotatorStep, value: string) => connectionUrl(step, value, parseRedisUrl);

export class PostgresRotator implements Rotator {
  constructor(
    private readonly databases: DatabaseOutbound,
    private readonly roles: readonly [string, string],
  ) {}

  async create(ctx: RotationContext): Promise<string> {
    const url = pgUrl('create', ctx.current);
    const inUse = decodeURIComponent(url.username);
    const next = this.roles.find((r) => r !== inUse) ?? this.roles[0];
    url.username = encodeURIComponent(next);
    url.password = password();
    return url.toString();
  }

  async set(ctx: RotationContext, connection: OpenConnection): Promise<void> {
    const url = pgUrl('set', ctx.pending!);
    const conn = await onSameServer('set', 'POSTGRES', connection, ctx.current, ctx.pending!);
    await step('set', async () =>
      this.databases.postgres(conn, async (c) => {
        await c.query(
          `ALTER ROLE ${c.escapeIdentifier(decodeURIComponent(url.username))} WITH LOGIN PASSWORD ${c.escapeLiteral(decodeURIComponent(url.password))}`,
        );
      }),
    );
  }

  async test(ctx: RotationContext): Promise<void> {
    await step('test', () => this.databases.postgres(ctx.pending!, (c) => c.query('SELECT 1')));
  }

  async finish(): Promise<void> {}

  async retire(old: string, current: string, connection: OpenConnection): Promise<void> {
    const role = decodeURIComponent(pgUrl('retire', old).username);
    if (role === decodeURIComponent(pgUrl('retire', current).username)) return;
    const conn = await onSameServer('retire', 'POSTGRES', connection, old, current);
    await step('retire', async () =>
      this.databases.postgres(conn, async (c) => {
        await c.query(`ALTER ROLE ${c.escapeIdentifier(role)} WITH PASSWORD ${c.escapeLiteral(password())}`);
      }),
    );
  }
}

export class RedisRotator implements Rotator {
  constructor(private readonly databases: DatabaseOutbound) {}

  async create(ctx: RotationContext): Promise<string> {
    const url = redisUrl('create', ctx.current);
    url.password = password();
    return url.toString();
  }

  async set(ctx: RotationContext, connection: OpenConnection): Promise<void> {
    const url = redisUrl('set', ctx.pending!);
    const conn = await onSameServer('set', 'REDIS', connection, ctx.current, ctx.pending!);
    await step('set', async () =>
      this.databases.redis(conn, (r) =>
        r.call('ACL', 'SETUSER', decodeURIComponent(url.username), 'on', `>${decodeURIComponent(url.password)}`),
      ),
    );
  }

  async test(ctx: RotationContext): Promise<void> {
    await step('test', () => this.databases.redis(ctx.pending!, (r) => r.ping()));
  }

  async finish(): Promise<void> {}

  async retire(old: string, current: string, connection: OpenConnection): Promise<void> {
    // Only the current password from now on: the same command however often it runs.
    const now = redisUrl('retire', current);
    if (redisUrl('retire', old).password === now.password) return;
    const conn = await onSameServer('retire', 'REDIS', connection, old, current);
    await step('retire', async () =>
      this.databases.redis(conn, (r) =>
        r.call('ACL', 'SETUSER', decodeURIComponent(now.username), 'resetpass', `>${decodeURIComponent(now.password)}`),
      ),
    );
  }
}
