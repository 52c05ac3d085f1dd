// Where verification records live between Postgres and the hot path: a bounded in-process
// cache (positive and negative), and Redis shared by every replica. Entries hold what
// verification needs and never a secret; they are keyed by the secret's keyed hash.
//
// A fill must never write a live entry after an invalidation it raced with:
// - in process, an invalidation marks the token with an epoch, and a fill that began before
//   that epoch is dropped;
// - in Redis, an invalidation records the token's new version and deletes its entries in one
//   script, and a fill writes only if no newer version was recorded.
//
// In-process entries that requests use are read again before they expire, in batches, so that a
// busy token never waits for a fill and entries filled together (a warm-up, a restart) do not
// expire together.
import { isDeepStrictEqual } from 'node:util';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { VerifyConfig } from '../platform/config';
import { redisReady } from '../platform/redis';
import type { SecretRecord } from './verdict';

interface Local {
  record: SecretRecord;
  /** Wall-clock ms after which the entry is stale, whatever the LRU thinks. */
  until: number;
  /**
   * When the entry is due to be read again, if a request has used it by then: between half and
   * nine tenths of its life, drawn at random, so that entries filled together (a warm-up, a
   * restart) are read again over minutes, not all in the same seconds.
   */
  renewAt: number;
  used: boolean;
}

/** The in-process layer. */
export class LocalRecordCache {
  private readonly positive: LRUCache<string, Local>;
  private readonly negative: LRUCache<string, true>;
  // Nearly every token is cached under one hash: a plain string until there is a second one.
  private readonly hashesByToken = new Map<string, string | Set<string>>();
  private readonly invalidatedAt = new Map<string, { epoch: number; at: number }>();
  private epoch = 0;
  /** Fills begun before this epoch were begun before a clear(). */
  private clearedEpoch = 0;
  /** Hashes by when they are due to be read again, in slots of `renewEveryMs`. */
  private readonly dueBySlot = new Map<number, Set<string>>();
  /** How often the owner of the cache should collect the entries due (takeDue). */
  readonly renewEveryMs: number;

  constructor(
    private readonly cfg: VerifyConfig,
    /** False while this replica cannot be sure it has seen every change (polls failing). */
    private readonly trusted: () => boolean,
  ) {
    this.positive = new LRUCache<string, Local>({
      max: cfg.cacheMaxEntries,
      maxSize: cfg.cacheMaxBytes,
      // An entry is a few small strings and numbers: its JSON size is a fair measure.
      sizeCalculation: (v, k) =>
        k.length +
        200 +
        v.record.scopes.reduce((n, s) => n + s.length + 8, 0) +
        (v.record.allowedCidrs?.length ?? 0) * 48,
      dispose: (v, hash) => {
        this.forget(v.record.tokenId, hash);
        this.unschedule(hash, v.renewAt);
      },
    });
    this.negative = new LRUCache<string, true>({
      max: cfg.negativeMaxEntries,
      ttl: Math.max(cfg.negativeTtlMs, 1),
      ttlAutopurge: false,
    });
    // A tenth of an entry's life is left when it is due at the latest: slots far shorter than that.
    this.renewEveryMs = cfg.cacheTtlMs === 0 ? 0 : Math.max(10, Math.min(1_000, Math.floor(cfg.cacheTtlMs / 40)));
  }

  /** A live record, null for a remembered unknown secret, undefined for a miss. */
  get(hash: string, now: number): SecretRecord | null | undefined {
    if (!this.trusted()) return undefined;
    const hit = this.positive.get(hash);
    if (hit) {
      if (hit.until > now) {
        hit.used = true;
        return hit.record;
      }
      this.positive.delete(hash);
    }
    return this.negative.get(hash) ? null : undefined;
  }

  /** Marks the start of a fill; pass the value to set(). */
  beginFill(): number {
    return this.epoch;
  }

  set(hash: string, record: SecretRecord | null, fillEpoch: number, now: number, notAfter = Infinity): void {
    if (record === null) {
      if (this.cfg.negativeTtlMs > 0) this.negative.set(hash, true);
      return;
    }
    if (!this.accepts(record, fillEpoch)) return;
    const until = Math.min(now + this.cfg.cacheTtlMs, notAfter);
    const renewAt = now + (until - now) * (0.5 + 0.4 * Math.random());
    const current = this.positive.peek(hash);
    if (current && sameRecord(current.record, record)) {
      // The same record again (a re-read, nearly always): the entry lives on with a new life.
      // Replacing it left a long-lived record behind as garbage for every entry read again.
      this.unschedule(hash, current.renewAt);
      current.until = until;
      current.renewAt = renewAt;
      current.used = false;
      this.schedule(hash, renewAt);
      return;
    }
    this.positive.set(hash, { record, until, renewAt, used: false });
    this.schedule(hash, renewAt);
    const known = this.hashesByToken.get(record.tokenId);
    if (known === undefined) this.hashesByToken.set(record.tokenId, hash);
    else if (typeof known === 'string') {
      if (known !== hash) this.hashesByToken.set(record.tokenId, new Set([known, hash]));
    } else known.add(hash);
  }

  /** Drops every entry of these tokens and refuses fills that began before now. */
  invalidate(tokenIds: readonly string[]): void {
    const now = Date.now();
    this.epoch++;
    for (const id of tokenIds) {
      this.invalidatedAt.delete(id); // re-insert at the end: the map stays in time order
      this.invalidatedAt.set(id, { epoch: this.epoch, at: now });
      const known = this.hashesByToken.get(id);
      if (known === undefined) continue;
      for (const hash of typeof known === 'string' ? [known] : [...known]) this.positive.delete(hash);
    }
    // A fill takes milliseconds; marks older than a minute can no longer matter.
    for (const [id, mark] of this.invalidatedAt) {
      if (now - mark.at < 60_000) break; // insertion order is time order
      this.invalidatedAt.delete(id);
    }
  }

  /**
   * The entries due to be read again by `now` that a request used since their fill, once each. An
   * entry nobody used is left to expire: it is not worth a read.
   */
  takeDue(now: number): string[] {
    const taken: string[] = [];
    const last = this.slotOf(now);
    for (const [slot, hashes] of this.dueBySlot) {
      if (slot > last) continue;
      this.dueBySlot.delete(slot);
      for (const hash of hashes) {
        const entry = this.positive.peek(hash);
        if (entry?.used && entry.until > now) taken.push(hash);
      }
    }
    return taken;
  }

  /**
   * The answer of a re-read begun at `fillEpoch`: a fill of an entry still cached (it replaces the
   * entry under the rules of any fill, keeping the entry's object when the record is the same), or
   * the entry's end when the secret is gone. An entry dropped meanwhile (invalidated, evicted)
   * stays dropped.
   */
  renew(hash: string, record: SecretRecord | null, fillEpoch: number, now: number): void {
    if (!this.positive.has(hash)) return;
    if (record) this.set(hash, record, fillEpoch, now);
    else this.positive.delete(hash);
  }

  /** Forgets everything, for when invalidations may have been missed (the channel reconnected). */
  clear(): void {
    this.clearedEpoch = ++this.epoch;
    this.positive.clear();
    this.negative.clear();
  }

  get size(): number {
    return this.positive.size;
  }

  /** Whether a fill begun at `fillEpoch` may write its record. */
  private accepts(record: SecretRecord, fillEpoch: number): boolean {
    if (this.cfg.cacheTtlMs === 0 || !this.trusted() || fillEpoch < this.clearedEpoch) return false;
    const mark = this.invalidatedAt.get(record.tokenId);
    return !(mark && mark.epoch > fillEpoch); // else the token changed while this fill was reading
  }

  private slotOf(at: number): number {
    return Math.floor(at / this.renewEveryMs);
  }

  private schedule(hash: string, renewAt: number): void {
    const slot = this.slotOf(renewAt);
    const due = this.dueBySlot.get(slot);
    if (due) due.add(hash);
    else this.dueBySlot.set(slot, new Set([hash]));
  }

  private unschedule(hash: string, renewAt: number): void {
    const slot = this.slotOf(renewAt);
    const due = this.dueBySlot.get(slot);
    if (due?.delete(hash) && due.size === 0) this.dueBySlot.delete(slot);
  }

  private forget(tokenId: string, hash: string): void {
    const known = this.hashesByToken.get(tokenId);
    if (known === hash) this.hashesByToken.delete(tokenId);
    else if (typeof known === 'object') {
      known.delete(hash);
      if (known.size === 0) this.hashesByToken.delete(tokenId);
    }
  }
}

/** Whether two records say the same. */
export const sameRecord = (a: SecretRecord, b: SecretRecord): boolean => isDeepStrictEqual(a, b);

// KEYS: entry, token version. ARGV: version read with the record, value, ttl ms.
const FILL = `
local known = tonumber(redis.call('GET', KEYS[2]) or '0')
if known > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

// KEYS: token version, then the token's entries. ARGV: new version, version key ttl ms.
const INVALIDATE = `
local known = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > known then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1`;

interface SharedEntry {
  record: SecretRecord;
  /** When the entry stops being trusted: layers below never extend it. */
  until: number;
}

/** The Redis layer, shared by every replica. */
export class SharedRecordCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  private entryKey(hash: string) {
    return `${this.prefix}:vc2:${hash}`;
  }

  private versionKey(tokenId: string) {
    return `${this.prefix}:tv:${tokenId}`;
  }

  async get(hash: string): Promise<SharedEntry | undefined> {
    if (this.ttlMs === 0 || !redisReady(this.redis)) return undefined;
    const raw = await this.redis.get(this.entryKey(hash));
    return raw ? (JSON.parse(raw) as SharedEntry) : undefined;
  }

  async fill(hash: string, record: SecretRecord, now: number): Promise<void> {
    if (this.ttlMs === 0 || !redisReady(this.redis)) return;
    const value: SharedEntry = { record, until: now + this.ttlMs };
    await this.redis.eval(
      FILL,
      2,
      this.entryKey(hash),
      this.versionKey(record.tokenId),
      record.version,
      JSON.stringify(value),
      this.ttlMs,
    );
  }

  /** Records the token's new version and deletes its entries, atomically. */
  async invalidate(tokenId: string, version: number, hashes: readonly string[]): Promise<void> {
    // The version must outlive any fill that could still be in flight, and every entry.
    if (!redisReady(this.redis)) throw new Error('Redis is not connected');
    const keepMs = this.ttlMs + 120_000;
    await this.redis.eval(
      INVALIDATE,
      1 + hashes.length,
      this.versionKey(tokenId),
      ...hashes.map((h) => this.entryKey(h)),
      version,
      keepMs,
    );
  }
}
