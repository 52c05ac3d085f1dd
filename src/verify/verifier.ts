// Verification of presented secrets: for gateways (verifyToken, /v1/verify, /v1/authz,
// introspection) and for authenticating every caller of Latchkey itself. Checksum first, then
// the in-process cache, then Redis, then Postgres.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import type { InvalidationBus } from './invalidation-bus';
import type { Principal } from '../iam/principal';
import type { Permission } from '../iam/permissions';
import { bearer } from '../platform/http';
import { throttled } from '../platform/logger';
import { andThen, joinOrStart, type MaybePromise } from '../platform/maybe-promise';
import { redisReady } from '../platform/redis';
import { badInput, DomainError, ErrorCode, unauthenticated } from '../platform/errors';
import type { Metrics } from '../platform/metrics';
import type { SecretHasher } from '../tokens/secret-hasher';
import { isWellFormed } from '../tokens/token-format';
import type { KeyedBuckets } from '../platform/keyed-buckets';
import type { PermissionCache } from './permission-cache';
import type { RateLimiter } from './rate-limiter';
import type { LocalRecordCache, SharedRecordCache } from './record-cache';
import type { RecordLoader } from './record-loader';
import type { UsageRecorder } from './usage';
import { decide, failed, type SecretRecord } from './verdict';
import { VerifyFailure, type VerifyResult } from './verify.types';

const MAX_REQUIRED_SCOPES = 50;
/** Cached records read again per query: enough to make a re-read far cheaper than a fill, few enough to parse in a millisecond or two. */
const RENEW_BATCH = 250;

/** Why a secret is checked: for a gateway, or to authenticate a caller of Latchkey itself. */
export type Purpose = 'gateway' | 'authentication';

export interface Checked {
  result: VerifyResult;
  record: SecretRecord | null;
}

export interface VerifierParts {
  ds: DataSource;
  hasher: SecretHasher;
  permissions: PermissionCache;
  records: RecordLoader;
  audit: AuditService;
  local: LocalRecordCache;
  shared: SharedRecordCache;
  limiter: RateLimiter;
  usage: UsageRecorder;
  bus: InvalidationBus;
  redis: Redis;
  redisPrefix: string;
  metrics: Metrics;
  log: Logger;
  /** Unknown credentials each client address may present (only those found to exist are free). */
  misses: KeyedBuckets;
}

export class Verifier {
  /** Fills under way, one per secret, so that a burst of a secret not yet cached makes one read. */
  private readonly fills = new Map<string, Promise<SecretRecord | null>>();
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private readonly warnRateLimits = throttled();

  constructor(private readonly p: VerifierParts) {
    p.bus.listen((msg) => {
      p.metrics.invalidations.inc({ kind: msg.kind });
      if (msg.kind === 'tokens') p.local.invalidate(msg.ids);
      if (msg.kind === 'reset') p.local.clear();
      // A fill begun before a change must not answer requests made after it. (Its own answer is
      // decided on what it read, and it caches nothing the change made stale.)
      if (msg.kind === 'tokens' || msg.kind === 'reset') this.fills.clear();
      if (msg.kind === 'permissions' || msg.kind === 'reset') p.permissions.invalidate();
    });
  }

  /** Starts reading again, in batches, the cached records due for it (see LocalRecordCache.takeDue). */
  start(): void {
    if (this.renewTimer || this.p.local.renewEveryMs === 0) return;
    this.renewTimer = setInterval(() => {
      this.renewing ??= this.renewDue().finally(() => (this.renewing = null));
    }, this.p.local.renewEveryMs);
    this.renewTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    await this.renewing;
  }

  /**
   * Verifies a secret for a caller in `tenantId` (null: any tenant, for authentication). A valid
   * answer counts against the token's rate limit and its usage.
   */
  async verify(
    secret: string,
    requiredScopes: readonly string[] | null | undefined,
    tenantId: string | null,
    clientIp?: string | null,
  ): Promise<VerifyResult> {
    return (await this.check(secret, requiredScopes, tenantId, clientIp)).result;
  }

  /**
   * The verdict and the record it was decided on (null when none was found). The hot path: when
   * the record is in memory and no rate limit needs Redis, this returns synchronously, without a
   * promise; otherwise it returns one.
   */
  check(
    secret: string,
    requiredScopes: readonly string[] | null | undefined,
    tenantId: string | null,
    clientIp?: string | null,
    /**
     * `gateway`: a gateway asks about its user's token. `authentication`: the caller presents its
     * own credential and is not authenticated yet, so the reads its address may cause are limited.
     */
    purpose: Purpose = 'gateway',
  ): MaybePromise<Checked> {
    const required = requiredScopes ?? [];
    if (required.length > MAX_REQUIRED_SCOPES)
      throw badInput(`at most ${MAX_REQUIRED_SCOPES} requiredScopes`, { argument: 'requiredScopes' });
    if (!isWellFormed(secret)) return this.counted({ result: failed(VerifyFailure.MALFORMED), record: null }, purpose);
    const hash = this.p.hasher.hash(secret);
    const record = this.cached(hash);
    if (record === undefined) {
      // Only credentials that turn out not to exist spend the address's budget: a gateway or a NAT
      // presenting many valid tokens after a restart is never refused for being cold.
      if (purpose === 'authentication' && !this.p.misses.has(clientIp)) {
        this.p.metrics.authMissesLimited.inc();
        const retryAfter = this.p.misses.retryAfter(clientIp);
        throw new DomainError(
          ErrorCode.RATE_LIMITED,
          `too many unknown credentials from this address; retry in ${retryAfter} s`,
          { retryAfter },
        );
      }
      return this.sharedFill(hash).then((r) => {
        if (r === null && purpose === 'authentication') this.p.misses.take(clientIp);
        return this.conclude(r, tenantId, required, clientIp, purpose);
      });
    }
    return this.conclude(record, tenantId, required, clientIp, purpose);
  }

  private conclude(
    record: SecretRecord | null,
    tenantId: string | null,
    required: readonly string[],
    clientIp: string | null | undefined,
    purpose: Purpose,
  ): MaybePromise<Checked> {
    const result = decide(record, tenantId, required, Date.now(), clientIp);
    if (result.failure === VerifyFailure.IP_NOT_ALLOWED) this.reportRejectedAddress(record!, clientIp);
    if (!result.valid) return this.counted({ result, record }, purpose);
    if (record!.rateLimit)
      return this.limit(result, record!).then((limited) => this.used({ result: limited, record }, clientIp, purpose));
    return this.used({ result, record }, clientIp, purpose);
  }

  private used(checked: Checked, clientIp: string | null | undefined, purpose: Purpose): Checked {
    if (checked.result.valid) this.p.usage.record(checked.record!.tokenId, checked.record!.tenantId, clientIp);
    return this.counted(checked, purpose);
  }

  private counted(checked: Checked, purpose: Purpose): Checked {
    const result = checked.result.failure ?? 'VALID';
    this.p.metrics.verificationsOf(result).inc();
    (purpose === 'gateway' ? this.p.metrics.gatewayVerificationsOf : this.p.metrics.authenticationsOf)(result).inc();
    return checked;
  }

  private async limit(result: VerifyResult, record: SecretRecord): Promise<VerifyResult> {
    try {
      const rate = await this.p.limiter.hit(record.tokenId, record.rateLimit!);
      return rate.allowed
        ? result
        : { ...result, valid: false, failure: VerifyFailure.RATE_LIMITED, retryAfter: rate.retryAfter };
    } catch (err) {
      // Redis is unreachable: verification stays available, without the limit.
      this.p.metrics.rateLimitErrors.inc();
      if (this.warnRateLimits()) {
        this.p.log.warn(
          { err, tokenId: record.tokenId },
          'rate limits unavailable (Redis); allowing, and counting in latchkey_rate_limit_errors_total',
        );
      }
      return result;
    }
  }

  /**
   * Resolves a bearer credential to a principal. Only CONTROL tokens authenticate to Latchkey
   * itself: a token issued for the CRM cannot be replayed against the control plane.
   */
  async authenticate(authorization: string | undefined, clientIp?: string | null): Promise<Principal> {
    const secret = bearer(authorization);
    if (!secret) throw unauthenticated();
    return this.authenticateSecret(secret, clientIp);
  }

  /** Synchronous when the token and its owner's permissions are in memory, like check(). */
  authenticateSecret(secret: string, clientIp?: string | null): MaybePromise<Principal> {
    return andThen(this.check(secret, [], null, clientIp, 'authentication'), ({ result, record }) => {
      // Over its own rate limit the token is still good: 429 with the wait, not 401.
      if (result.failure === VerifyFailure.RATE_LIMITED) {
        throw new DomainError(
          ErrorCode.RATE_LIMITED,
          `this token is over its rate limit; retry in ${result.retryAfter ?? 1} s`,
          { retryAfter: result.retryAfter ?? 1 },
        );
      }
      if (!result.valid) throw unauthenticated(`the bearer token is not valid (${result.failure})`);
      // Fixed at issue: a DATA token whose scopes were all taken away is still a DATA token.
      if (record!.kind !== 'CONTROL') {
        throw unauthenticated(
          'this is a DATA token, for the APIs its scopes reach; it cannot call Latchkey itself: use a CONTROL token',
        );
      }
      return andThen(this.p.permissions.cached(result.tenantId!, result.ownerId!), (permissions) =>
        principalOf(result, permissions),
      );
    });
  }

  /** The keyed hash of a secret: what a live connection keeps instead of the secret. */
  hashOf(secret: string): string {
    return this.p.hasher.hash(secret);
  }

  /** Re-judges a credential known by its hash (a live connection's): no usage, no rate limit. */
  async recheck(hash: string): Promise<Checked> {
    const record = this.cached(hash) ?? (await this.sharedFill(hash));
    return { result: decide(record, null, [], Date.now()), record };
  }

  /** The owner's permissions as they are now (the cache is dropped on every role change). */
  permissionsFor(tenantId: string, ownerId: string): Promise<Set<Permission>> {
    return this.p.permissions.load(tenantId, ownerId);
  }

  /** The record from this process's memory: null for a remembered unknown, undefined for a miss. */
  private cached(hash: string): SecretRecord | null | undefined {
    const local = this.p.local.get(hash, Date.now());
    if (local !== undefined) this.p.metrics.lookupsIn(local ? 'local' : 'local_negative').inc();
    return local;
  }

  /** Joins the fill of this secret under way, or starts one. */
  private sharedFill(hash: string): Promise<SecretRecord | null> {
    return joinOrStart(this.fills, hash, () => this.fill(hash));
  }

  /** The record from Redis, else Postgres, filling the layers above. */
  private async fill(hash: string): Promise<SecretRecord | null> {
    const now = Date.now();
    const epoch = this.p.local.beginFill();
    const shared = await this.p.shared.get(hash).catch((err) => {
      this.p.log.warn({ err }, 'verification cache in Redis unavailable; reading Postgres');
      return undefined;
    });
    if (shared && shared.until > now) {
      this.p.metrics.lookupsIn('redis').inc();
      this.p.local.set(hash, shared.record, epoch, now, shared.until);
      return shared.record;
    }
    this.p.metrics.lookupsIn('postgres').inc();
    const record = await this.p.records.readOne(hash);
    this.p.local.set(hash, record, epoch, now);
    if (record) {
      this.p.shared
        .fill(hash, record, now)
        .catch((err) => this.p.log.warn({ err }, 'could not fill the Redis verification cache'));
    }
    return record;
  }

  /**
   * Reads again the cached records due for it, a batch per query, one batch at a time, until
   * stopped. Each batch is a fill under the cache's rules: a token invalidated while it was read is
   * not written back. If a read fails, its entries expire as they would have without it.
   */
  private async renewDue(): Promise<void> {
    const hashes = this.p.local.takeDue(Date.now());
    for (let i = 0; i < hashes.length && this.renewTimer; i += RENEW_BATCH) {
      const batch = hashes.slice(i, i + RENEW_BATCH);
      const epoch = this.p.local.beginFill();
      const now = Date.now();
      try {
        const records = await this.p.records.readMany(batch);
        for (const hash of batch) this.p.local.renew(hash, records.get(hash) ?? null, epoch, now);
        this.p.metrics.cacheRenewals.inc(batch.length);
      } catch (err) {
        this.p.log.warn(
          { err, entries: hashes.length - i },
          'could not read cached verification records again; they expire as usual',
        );
        return;
      }
    }
  }

  /** An address outside a token's networks is audited, at most once a minute per token and address. */
  private reportRejectedAddress(record: SecretRecord, clientIp: string | null | undefined): void {
    if (!redisReady(this.p.redis)) return; // its once-a-minute guard lives there
    // Once a minute per token, whatever the address: the address is the gateway's word, and a
    // key per address would let it write an event per address it makes up.
    const key = `${this.p.redisPrefix}:ipr:${record.tokenId}`;
    void this.p.redis
      .set(key, '1', 'EX', 60, 'NX')
      .then(async (first) => {
        if (first !== 'OK') return;
        await this.p.ds.transaction((tx) =>
          this.p.audit.append(tx, record.tenantId, {
            action: 'TOKEN_ADDRESS_REJECTED',
            actorId: null,
            targetType: 'TOKEN',
            targetId: record.tokenId,
            data: { clientIp: clientIp ?? null, allowedCidrs: record.allowedCidrs },
          }),
        );
      })
      .catch((err) => this.p.log.warn({ err, tokenId: record.tokenId }, 'could not audit a rejected address'));
  }
}

function principalOf(result: VerifyResult, permissions: Set<Permission>): Principal {
  return { tenantId: result.tenantId!, ownerId: result.ownerId!, tokenId: result.tokenId!, permissions };
}
