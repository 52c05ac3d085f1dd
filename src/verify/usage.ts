// Token usage: counted in memory on the hot path and written in batches, at most one write per
// token per flush interval, never on a response's path. The per-day counts are written every
// USAGE_DAILY_FLUSH_MS (a whole number of flushes; a minute by default, as the totals): they feed
// day-by-day reports, so with a shorter flush interval they are written less often than the
// totals, since writing both at every flush doubles the rows each flush updates.
//
// Shaped for the garbage collector: a token's counters live as long as the token is in use and are
// reset, not replaced, by each flush; a flush reads them into a few flat arrays and writes those in
// chunks, with a turn of the event loop between chunks, so responses never wait behind it.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { preparedQuery } from '../platform/db';
import type { Metrics } from '../platform/metrics';

interface Counter {
  tenantId: string;
  /** Uses since the last flush. */
  count: number;
  /**
   * Seconds since the recorder started: a small integer, which V8 stores in the object itself.
   * A millisecond timestamp would be a fresh heap number on every use, promoted and discarded.
   */
  lastUsedS: number;
  /** Newest first, distinct, at most IPS_KEPT; null until an address is seen. */
  ips: string[] | null;
  /** Uses per UTC day since the per-day counts were last written: nearly always one day, so that one is kept inline. */
  day: string;
  dayCount: number;
  otherDays: Map<string, number> | null;
  /** Flushes in a row that found this counter unused; it is dropped after a few. */
  idle: number;
}

/** What one chunk of a flush writes, as columns. */
interface Columns {
  ids: string[];
  tenants: string[];
  counts: number[];
  lasts: Date[];
  ips: string[];
  dayIds: string[];
  dayTenants: string[];
  days: string[];
  dayCounts: number[];
}

export const IPS_KEPT = 5;
const CHUNK = 500;
const IDLE_FLUSHES_KEPT = 3;
const emptyColumns = (): Columns => ({
  ids: [],
  tenants: [],
  counts: [],
  lasts: [],
  ips: [],
  dayIds: [],
  dayTenants: [],
  days: [],
  dayCounts: [],
});

// One statement per chunk, so one round trip and one commit: the per-day counts (a data-modifying
// CTE, which runs whether or not the outer statement reads it) and the per-token totals. Both
// insert in the arrays' order (by token id), so replicas flushing the same tokens never deadlock.
// Tokens deleted since their use are skipped by the joins. The addresses are merged only when they
// differ from those stored: a replica keeps a token's recent addresses across flushes, so with one
// replica, or callers that keep their address, the lists are nearly always equal already.
const UPSERT = `
  WITH days AS (
    INSERT INTO token_usage_daily (tenant_id, token_id, day, count)
    SELECT d.tenant_id, d.token_id, d.day, d.n
      FROM unnest($6::uuid[], $7::uuid[], $8::date[], $9::bigint[]) AS d(tenant_id, token_id, day, n)
      JOIN tokens t ON t.tenant_id = d.tenant_id AND t.id = d.token_id
    ON CONFLICT (tenant_id, token_id, day) DO UPDATE SET count = token_usage_daily.count + excluded.count
  )
  INSERT INTO token_usage (tenant_id, token_id, usage_count, last_used_at, last_client_ips)
  SELECT u.tenant_id, u.id, u.n, u.last, ARRAY(SELECT jsonb_array_elements_text(u.ips))
    FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::timestamptz[], $5::jsonb[]) AS u(id, tenant_id, n, last, ips)
    JOIN tokens t ON t.tenant_id = u.tenant_id AND t.id = u.id
  ON CONFLICT (tenant_id, token_id) DO UPDATE SET
    usage_count = token_usage.usage_count + excluded.usage_count,
    last_used_at = GREATEST(token_usage.last_used_at, excluded.last_used_at),
    last_client_ips = CASE
      WHEN cardinality(excluded.last_client_ips) = 0 OR excluded.last_client_ips = token_usage.last_client_ips
        THEN token_usage.last_client_ips
      ELSE ARRAY(
        SELECT ip FROM (
          SELECT e.ip, e.ord FROM unnest(excluded.last_client_ips) WITH ORDINALITY AS e(ip, ord)
          UNION ALL
          SELECT o.ip, o.ord + 1000 FROM unnest(token_usage.last_client_ips) WITH ORDINALITY AS o(ip, ord)
        ) a GROUP BY ip ORDER BY min(ord) LIMIT ${IPS_KEPT})
    END`;

export class UsageRecorder {
  private readonly counters = new Map<string, Counter>();
  /** The oldest use whose count is not written yet; null when there is none. */
  private oldest: number | null = null;
  /** Whether there are per-day counts not written yet. */
  private daysPending = false;
  private timer: NodeJS.Timeout | null = null;
  private flushing: { done: Promise<void>; daily: boolean } | null = null;
  private today = '';
  private todayEnds = 0;
  private readonly base = Date.now() - 1000;

  constructor(
    private readonly ds: DataSource,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly dailyIntervalMs: number,
  ) {}

  record(tokenId: string, tenantId: string, clientIp: string | null | undefined, now = Date.now()): void {
    const c = this.counter(tokenId, tenantId);
    c.count++;
    c.idle = 0;
    this.countDay(c, this.dayOf(now), 1);
    this.seen(c, now, clientIp);
    this.oldest ??= now;
  }

  private counter(tokenId: string, tenantId: string): Counter {
    let c = this.counters.get(tokenId);
    if (!c) {
      c = { tenantId, count: 0, lastUsedS: 0, ips: null, day: '', dayCount: 0, otherDays: null, idle: 0 };
      this.counters.set(tokenId, c);
    }
    return c;
  }

  private countDay(c: Counter, day: string, n: number): void {
    this.daysPending = true;
    if (c.dayCount === 0) c.day = day;
    if (c.day === day) c.dayCount += n;
    else {
      c.otherDays ??= new Map();
      c.otherDays.set(day, (c.otherDays.get(day) ?? 0) + n);
    }
  }

  private seen(c: Counter, at: number, ips: string | readonly string[] | null | undefined): void {
    const s = Math.floor((at - this.base) / 1000);
    if (s > c.lastUsedS) c.lastUsedS = s;
    if (!ips || ips.length === 0) return;
    if (typeof ips === 'string') {
      if (c.ips !== null && c.ips[0] === ips) return; // the usual case: the same caller again
      ips = [ips];
    }
    c.ips = [...new Set([...ips, ...(c.ips ?? [])])].slice(0, IPS_KEPT);
  }

  private dayOf(now: number): string {
    if (now >= this.todayEnds || now < this.todayEnds - 86_400_000) {
      this.today = new Date(now).toISOString().slice(0, 10);
      this.todayEnds = Date.parse(`${this.today}T00:00:00Z`) + 86_400_000;
    }
    return this.today;
  }

  start(): void {
    // Every flush writes the totals; every `dailyEvery`-th also writes the per-day counts.
    const dailyEvery = Math.max(1, Math.round(this.dailyIntervalMs / this.intervalMs));
    let flushes = 0;
    this.timer = setInterval(() => void this.flush({ daily: ++flushes % dailyEvery === 0 }), this.intervalMs);
    this.timer.unref();
  }

  /**
   * Resolves once everything recorded before the call is written: the totals, last use and
   * addresses, and unless `daily` is false the per-day counts. A flush already running is
   * awaited instead of overlapped.
   */
  async flush({ daily = true }: { daily?: boolean } = {}): Promise<void> {
    // A flush already under way took its snapshot before some of those uses: wait for it. One
    // that started after this call has them all, and will do if it writes what this call asks for.
    if (this.flushing) await this.flushing.done.catch(() => undefined);
    while (this.flushing) {
      if (this.flushing.daily || !daily) return this.flushing.done;
      await this.flushing.done.catch(() => undefined);
    }
    const done = this.write(daily).finally(() => (this.flushing = null));
    this.flushing = { done, daily };
    return done;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  /** Moves a counter's uses since the last flush (and, when `daily`, its per-day counts) into columns, and resets them. */
  private take(id: string, c: Counter, cols: Columns, daily: boolean): void {
    if (c.count > 0) {
      cols.ids.push(id);
      cols.tenants.push(c.tenantId);
      cols.counts.push(c.count);
      cols.lasts.push(new Date(this.base + c.lastUsedS * 1000));
      cols.ips.push(JSON.stringify(c.ips ?? []));
      c.count = 0;
    }
    if (!daily || c.dayCount === 0) return;
    for (const [day, n] of [[c.day, c.dayCount] as const, ...(c.otherDays ?? [])]) {
      cols.dayIds.push(id);
      cols.dayTenants.push(c.tenantId);
      cols.days.push(day);
      cols.dayCounts.push(n);
    }
    c.dayCount = 0;
    c.otherDays = null;
  }

  // Walks the counters a chunk at a time, with a turn of the event loop between chunks: uses
  // that arrive meanwhile count towards the next flush.
  private async write(daily: boolean): Promise<void> {
    const oldest = this.oldest;
    if (oldest === null && !(daily && this.daysPending)) return;
    this.oldest = null;
    if (daily) this.daysPending = false;
    const walk = this.counters.entries();
    for (;;) {
      const cols = emptyColumns();
      for (let next = walk.next(); !next.done; next = walk.next()) {
        const [id, c] = next.value;
        if (c.count > 0 || (daily && c.dayCount > 0)) this.take(id, c, cols, daily);
        else if (c.dayCount === 0 && ++c.idle > IDLE_FLUSHES_KEPT) this.counters.delete(id);
        if (cols.ids.length >= CHUNK || cols.dayIds.length >= CHUNK) break;
      }
      if (cols.ids.length === 0 && cols.dayIds.length === 0) break;
      await this.writeChunk(cols, oldest);
      await new Promise((r) => setImmediate(r));
    }
    if (oldest !== null) this.metrics.usageFlushLag.set((Date.now() - oldest) / 1000);
  }

  private async writeChunk(cols: Columns, oldest: number | null): Promise<void> {
    // Sorted by token id, so that rows are locked in that order (see UPSERT).
    const byId = (ids: string[]) => ids.map((_, i) => i).sort((a, b) => (ids[a]! < ids[b]! ? -1 : 1));
    const idx = byId(cols.ids);
    const dayIdx = byId(cols.dayIds);
    const pick = <T>(xs: T[], order: number[]) => order.map((i) => xs[i]!);
    try {
      await preparedQuery(this.ds, 'latchkey_usage_flush', UPSERT, [
        ...[cols.ids, cols.tenants, cols.counts, cols.lasts, cols.ips].map((xs) => pick<unknown>(xs, idx)),
        ...[cols.dayTenants, cols.dayIds, cols.days, cols.dayCounts].map((xs) => pick<unknown>(xs, dayIdx)),
      ]);
    } catch (err) {
      // Put the counts back: the next flush writes them with whatever arrived since.
      cols.ids.forEach((id, k) => {
        const c = this.counter(id, cols.tenants[k]!);
        c.count += cols.counts[k]!;
        this.seen(c, cols.lasts[k]!.getTime(), JSON.parse(cols.ips[k]!));
      });
      cols.dayIds.forEach((id, k) =>
        this.countDay(this.counter(id, cols.dayTenants[k]!), cols.days[k]!, cols.dayCounts[k]!),
      );
      if (oldest !== null) this.oldest = Math.min(this.oldest ?? oldest, oldest);
      this.log.warn({ err, tokens: cols.ids.length }, 'usage flush failed; will retry');
    }
  }
}
