// Appends audit events inside the caller's transaction (gap-free per-tenant seq, hash-chained),
// lists them and re-checks the chain.
import type { DataSource } from 'typeorm';
import type { Principal } from '../iam/principal';
import { type Connection, connection, pageSize } from '../platform/pagination';
import type { Tx } from '../platform/db';
import { SECRET_SHAPE } from '../platform/hostile-input';
import { decodeCursor, uuidv7 } from '../platform/ids';
import { TenantScope } from '../platform/tenant-scope';
import type { AuditAction } from './actions';
import { ChainChecker, eventHash, GENESIS_HASH } from './audit-chain';

/** The Postgres NOTIFY channel on which committed appends wake the relay. */
export const AUDIT_NOTIFY_CHANNEL = 'latchkey_audit';
import { AuditEvent, AuditHeadRow } from './audit-event.entity';

export interface AuditEntry {
  action: AuditAction;
  /** null when the system acted (a scheduled job). */
  actorId: string | null;
  targetType: string;
  targetId: string;
  data?: Record<string, unknown>;
}

/** Audit data never holds a secret: an entry that looks as if it did is refused before it is written. */
export function refuseSecrets(e: AuditEntry): void {
  if (e.data && SECRET_SHAPE.test(JSON.stringify(e.data)))
    throw new Error(`refusing to audit ${e.action}: data holds a secret`);
}

export interface AuditFilterInput {
  actions?: string[] | null;
  targetId?: string | null;
}

export interface ChainReport {
  valid: boolean;
  checked: number;
  firstBrokenSeq: number | null;
  checkpoints: number;
  problem: string | null;
  /** When valid: the seq of the latest signed checkpoint (0: none yet), and how many events follow it. */
  signedThrough: number | null;
  unsignedTail: number | null;
}

/** Verifies a checkpoint's signature by key id (active or retired keys). */
export interface CheckpointVerifier {
  verify(h: { tenantId: string; seq: number; hash: string }, keyId: string, signature: string): boolean;
}

const CHECK_BATCH = 2_000;

export class AuditService {
  constructor(
    private readonly ds: DataSource,
    private readonly checkpointKeys: CheckpointVerifier,
    /** The relay signs a checkpoint at every multiple of this seq. */
    private readonly checkpointEvery: number,
  ) {}

  /** Creates the chain head of a new tenant. */
  async initTenant(tx: Tx, tenantId: string): Promise<void> {
    await tx.insert(AuditHeadRow, { tenantId, seq: 0, hash: GENESIS_HASH });
    await tx.query(`INSERT INTO audit_relay (tenant_id, published_seq) VALUES ($1, 0)`, [tenantId]);
  }

  /**
   * Appends events as the last step of the caller's transaction. Locking the tenant's chain
   * head serialises appends per tenant, and a rolled-back transaction takes its seq numbers
   * with it: no gaps, one chain.
   */
  /**
   * Appends the entry unless the same action on the same target (with the same values of `same`
   * in its data) was appended in the last `windowS` seconds: for events a caller could otherwise
   * make the chain grow by at will. Returns whether it appended.
   */
  async appendUnlessRecent(
    tx: Tx,
    tenantId: string,
    entry: AuditEntry,
    windowS: number,
    same: Record<string, string | null> = {},
  ): Promise<boolean> {
    const [recent] = await tx.query(
      `SELECT 1 FROM audit_events WHERE tenant_id = $1 AND target_id = $2 AND action = $3 AND at > now() - make_interval(secs => $4) AND data @> $5::jsonb LIMIT 1`,
      [tenantId, entry.targetId, entry.action, windowS, JSON.stringify(same)],
    );
    if (recent) return false;
    await this.append(tx, tenantId, entry);
    return true;
  }

  async append(tx: Tx, tenantId: string, entries: AuditEntry | AuditEntry[]): Promise<AuditEvent[]> {
    const list = Array.isArray(entries) ? entries : [entries];
    if (list.length === 0) return [];
    const [head] = (await tx.query(`SELECT seq, hash FROM audit_heads WHERE tenant_id = $1 FOR UPDATE`, [
      tenantId,
    ])) as Array<{ seq: string; hash: string }>;
    if (!head) throw new Error(`tenant ${tenantId} has no audit chain head`);
    const at = new Date();
    let seq = Number(head.seq);
    let { hash } = head;
    list.forEach(refuseSecrets);
    const rows = list.map((e) => {
      const data = e.data ?? {};
      const row: AuditEvent = {
        id: uuidv7(at.getTime()),
        tenantId,
        seq: ++seq,
        at,
        action: e.action,
        actorId: e.actorId,
        targetType: e.targetType,
        targetId: e.targetId,
        data,
        prevHash: hash,
        hash: '',
      };
      row.hash = eventHash(hash, row);
      hash = row.hash;
      return row;
    });
    // Column arrays through unnest: one statement, one parameter per column, for any number of events.
    await tx.query(
      `INSERT INTO audit_events (id, tenant_id, seq, at, action, actor_id, target_type, target_id, data, prev_hash, hash)
       SELECT id, $1, seq, $2, action, actor_id, target_type, target_id, data, prev_hash, hash
         FROM unnest($3::uuid[], $4::bigint[], $5::text[], $6::uuid[], $7::text[], $8::uuid[], $9::jsonb[], $10::text[], $11::text[])
           AS e(id, seq, action, actor_id, target_type, target_id, data, prev_hash, hash)`,
      [
        tenantId,
        at,
        rows.map((r) => r.id),
        rows.map((r) => r.seq),
        rows.map((r) => r.action),
        rows.map((r) => r.actorId),
        rows.map((r) => r.targetType),
        rows.map((r) => r.targetId),
        rows.map((r) => JSON.stringify(r.data)),
        rows.map((r) => r.prevHash),
        rows.map((r) => r.hash),
      ],
    );
    // The notification is delivered when (and only if) the transaction commits: the relay
    // publishes at once. One statement with the head's move, one round trip less under the lock.
    await tx.query(
      `WITH head AS (UPDATE audit_heads SET seq = $2, hash = $3 WHERE tenant_id = $1 RETURNING tenant_id) SELECT pg_notify($4, tenant_id::text) FROM head`,
      [tenantId, seq, hash, AUDIT_NOTIFY_CHANNEL],
    );
    return rows;
  }

  async list(
    principal: Principal,
    filter: AuditFilterInput | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<AuditEvent>> {
    const limit = pageSize(first);
    const qb = new TenantScope(this.ds.manager, principal.tenantId).select(AuditEvent, 'e');
    if (filter?.actions?.length) qb.andWhere('e.action IN (:...actions)', { actions: filter.actions });
    if (filter?.targetId) qb.andWhere('e.targetId = :targetId', { targetId: filter.targetId });
    const totalCount = await qb.clone().getCount();
    if (after) {
      const afterSeq = Number(decodeCursor(after));
      qb.andWhere('e.seq > :afterSeq', { afterSeq: Number.isSafeInteger(afterSeq) ? afterSeq : 0 });
    }
    const rows = await qb
      .orderBy('e.seq', 'ASC')
      .limit(limit + 1)
      .getMany();
    return connection(rows, limit, totalCount, (r) => r.seq);
  }

  /**
   * Recomputes the tenant's chain from the first event and compares it with the head and with the
   * signed checkpoints: each must verify and match the chain at its seq, none may lie past the
   * chain's end, and the latest one the relay owes (the last multiple of the interval it has
   * published) must exist. A superuser who rewrites the chain consistently cannot re-sign it; one
   * who also deletes the checkpoints is caught by the missing one, and offline by a trusted head.
   * Events after the latest checkpoint are reported as the unsigned tail: a superuser who cuts
   * them and winds back the head and the relay leaves no trace in the database itself, only
   * against an export or a head kept elsewhere.
   */
  async verifyChain(tenantId: string): Promise<ChainReport> {
    const rows: Array<{ seq: string; hash: string; key_id: string; signature: string }> = await this.ds.query(
      `SELECT seq, hash, key_id, signature FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY seq`,
      [tenantId],
    );
    const checkpoints = new Map(rows.map((r) => [Number(r.seq), r]));
    const checker = new ChainChecker();
    let verified = 0;
    const broken = (seq: number, problem: string): ChainReport => ({
      valid: false,
      checked: checker.checked,
      firstBrokenSeq: seq,
      checkpoints: verified,
      problem,
      signedThrough: null,
      unsignedTail: null,
    });
    for (;;) {
      const batch = await new TenantScope(this.ds.manager, tenantId)
        .select(AuditEvent, 'e')
        .andWhere('e.seq > :after', { after: checker.lastSeq })
        .orderBy('e.seq', 'ASC')
        .limit(CHECK_BATCH)
        .getMany();
      for (const row of batch) {
        if (!checker.add(row))
          return broken(
            checker.firstBrokenSeq!,
            `event seq ${checker.firstBrokenSeq} does not match the chain (changed, missing or out of order)`,
          );
        const c = checkpoints.get(row.seq);
        if (c) {
          if (!this.checkpointKeys.verify({ tenantId, seq: row.seq, hash: c.hash }, c.key_id, c.signature)) {
            return broken(row.seq, `the signed checkpoint at seq ${row.seq} does not verify with key ${c.key_id}`);
          }
          if (c.hash !== row.hash)
            return broken(row.seq, `event seq ${row.seq} differs from its signed checkpoint: the chain was rewritten`);
          verified++;
        }
      }
      if (batch.length < CHECK_BATCH) break;
    }
    const end = checker.lastSeq;
    const past = rows.find((r) => Number(r.seq) > end);
    if (past)
      return broken(
        end + 1,
        `a signed checkpoint at seq ${past.seq} lies past the chain's end (seq ${end}): events were removed`,
      );
    // Rows missing at the end show up against the head, which records the last seq and hash.
    const head = await this.ds.getRepository(AuditHeadRow).findOneByOrFail({ tenantId });
    if (head.seq !== end || head.hash !== checker.headHash)
      return broken(end + 1, `the chain ends at seq ${end}, its head says seq ${head.seq}`);
    const [relay]: Array<{ published_seq: string }> = await this.ds.query(
      `SELECT published_seq FROM audit_relay WHERE tenant_id = $1`,
      [tenantId],
    );
    const published = Number(relay?.published_seq ?? 0);
    if (published > end)
      return broken(
        end + 1,
        `the relay published events up to seq ${published}, past the chain's end (seq ${end}): events were removed`,
      );
    const owed = Math.floor(published / this.checkpointEvery) * this.checkpointEvery;
    if (owed > 0 && !checkpoints.has(owed))
      return broken(owed, `the signed checkpoint at seq ${owed} is missing: checkpoints were deleted`);
    const signedThrough = Math.max(0, ...rows.map((r) => Number(r.seq)));
    return {
      valid: true,
      checked: checker.checked,
      firstBrokenSeq: null,
      checkpoints: verified,
      problem: null,
      signedThrough,
      unsignedTail: end - signedThrough,
    };
  }
}
