// What the workers do when a scheduled action falls due. Each action re-reads and locks its token,
// checks that it is still due and still in the state it was planned for, acts, and appends its
// audit event in the same transaction. Jobs that fall due together run as one transaction.
import type { Logger } from 'pino';
import { type DataSource, In } from 'typeorm';
import type { AuditEntry, AuditService } from '../audit/audit.service';
import type { ChangeNotifier } from '../events/change-notifier';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { graceFor, nextNotifyFor, warningAt } from '../policies/schedule';
import type { Tx } from '../platform/db';
import { formatDuration } from '../platform/duration';
import type { LifecycleJob, LifecycleQueue } from '../platform/queues';
import type { SecretBox } from '../platform/secret-box';
import { TokenRow } from '../tokens/token.entity';
import { TokenSecretRow } from '../tokens/token-secret.entity';
import type { TokenService } from '../tokens/token.service';

export interface ActionResult {
  done: boolean;
  /** What was done, or why nothing was. */
  detail: string;
}

interface Acted {
  result: ActionResult;
  event?: AuditEntry;
}

type Handler = (tx: Tx, job: LifecycleJob, row: TokenRow, policy: RotationPolicy | null, now: Date) => Promise<Acted>;

const skip = (detail: string): Acted => ({ result: { done: false, detail } });
const iso = (ms: number) => new Date(ms).toISOString();
/** Jobs are delayed until due; a clock a little behind Redis's must not make them look early. */
const EARLY_TOLERANCE_MS = 1_000;

export class EarlyJobError extends Error {}

export class LifecycleActions {
  private readonly handlers: Record<LifecycleQueue, Handler>;

  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly tokens: TokenService,
    private readonly box: SecretBox,
    private readonly changes: ChangeNotifier,
    private readonly log: Logger,
  ) {
    this.handlers = { rotate: this.rotate, expire: this.expire, notify: this.notify, retire: this.retire };
  }

  /** Runs jobs of one kind; a failing batch is retried job by job, so one bad job fails alone. */
  async run(kind: LifecycleQueue, jobs: LifecycleJob[]): Promise<Array<ActionResult | Error>> {
    try {
      return await this.inTransaction(kind, jobs);
    } catch (err) {
      if (jobs.length === 1) return [err instanceof Error ? err : new Error(String(err))];
      this.log.warn({ err, kind, jobs: jobs.length }, 'a lifecycle batch failed; retrying its jobs one by one');
      const results: Array<ActionResult | Error> = [];
      for (const job of jobs) results.push(...(await this.run(kind, [job])));
      return results;
    }
  }

  private async inTransaction(kind: LifecycleQueue, jobs: LifecycleJob[]): Promise<ActionResult[]> {
    const now = new Date();
    for (const job of jobs) {
      if (job.due > now.getTime() + EARLY_TOLERANCE_MS) throw new EarlyJobError(`${kind} job for ${job.tokenId} ran ${job.due - now.getTime()} ms early`);
    }
    const { results, changed } = await this.ds.transaction(async (tx) => {
      const ids = [...new Set(jobs.map((j) => j.tokenId))];
      // Locked in id order, as every batch does: batches never deadlock each other.
      const rows = await tx.createQueryBuilder(TokenRow, 't').where('t.id IN (:...ids)', { ids }).orderBy('t.id', 'ASC').setLock('pessimistic_write').getMany();
      const byId = new Map(rows.map((r) => [r.id, r]));
      const policyIds = [...new Set(rows.map((r) => r.rotationPolicyId).filter((id): id is string => id !== null))];
      const policies = new Map((policyIds.length ? await tx.findBy(RotationPolicy, { id: In(policyIds) }) : []).map((p) => [p.id, p]));
      const events = new Map<string, AuditEntry[]>();
      const results: ActionResult[] = [];
      const changed: string[] = [];
      for (const job of jobs) {
        const row = byId.get(job.tokenId);
        if (!row || row.tenantId !== job.tenantId) {
          results.push({ done: false, detail: 'the token no longer exists' });
          continue;
        }
        const acted = await this.handlers[kind](tx, job, row, row.rotationPolicyId ? (policies.get(row.rotationPolicyId) ?? null) : null, now);
        results.push(acted.result);
        if (acted.event) {
          changed.push(row.id);
          const list = events.get(row.tenantId) ?? [];
          list.push(acted.event);
          events.set(row.tenantId, list);
        }
      }
      for (const [tenantId, list] of events) await this.audit.append(tx, tenantId, list);
      return { results, changed };
    });
    await this.changes.tokensChanged(changed);
    return results;
  }

  private rotate: Handler = async (tx, job, row, policy, now) => {
    if (row.status !== 'ACTIVE') return skip(`the token is ${row.status.toLowerCase()}`);
    if (row.generation !== job.generation) return skip(`the token was rotated since (generation ${row.generation}, planned at ${job.generation})`);
    if (row.nextRotationAt?.getTime() !== job.due) return skip('the rotation was re-planned');
    if (row.expiresAt && row.expiresAt <= now) return skip('the token has expired');
    const grace = graceFor(null, policy);
    const { graceEndsAt } = await this.tokens.addGeneration(tx, row, now, grace, policy, (secretId, secret) => this.box.seal(secret, secretId));
    return {
      result: { done: true, detail: `rotated to generation ${row.generation}` },
      event: {
        action: 'TOKEN_ROTATED',
        actorId: null,
        targetType: 'TOKEN',
        targetId: row.id,
        data: { generation: row.generation, gracePeriod: formatDuration(grace), previousGraceEndsAt: graceEndsAt?.toISOString() ?? null, scheduled: true, dueAt: iso(job.due) },
      },
    };
  };

  private expire: Handler = async (tx, job, row, _policy, now) => {
    if (row.status !== 'ACTIVE' && row.status !== 'SUSPENDED') return skip(`the token is ${row.status.toLowerCase()}`);
    if (row.expiresAt?.getTime() !== job.due) return skip('the expiry was re-planned');
    const where = { tenantId: row.tenantId, id: row.id };
    await tx
      .createQueryBuilder()
      .update(TokenRow)
      .set({ status: 'EXPIRED', nextRotationAt: null, nextNotifyAt: null, updatedAt: now })
      .where('tenant_id = :tenantId AND id = :id', where)
      .execute();
    await tx
      .createQueryBuilder()
      .update(TokenSecretRow)
      .set({ state: 'RETIRED', endedAt: now, sealed: null, sealedKeyId: null })
      .where(`tenant_id = :tenantId AND token_id = :id AND state IN ('CURRENT', 'PREVIOUS')`, where)
      .execute();
    row.status = 'EXPIRED';
    return {
      result: { done: true, detail: 'expired' },
      event: { action: 'TOKEN_EXPIRED', actorId: null, targetType: 'TOKEN', targetId: row.id, data: { expiresAt: iso(job.due) } },
    };
  };

  private notify: Handler = async (tx, job, row, policy, now) => {
    if (row.status !== 'ACTIVE' && row.status !== 'SUSPENDED') return skip(`the token is ${row.status.toLowerCase()}`);
    if (row.nextNotifyAt?.getTime() !== job.due || !row.expiresAt) return skip('the warning was re-planned');
    if (row.expiresAt <= now) return skip('the token has expired');
    const notifyBefore = policy?.notifyBefore ?? [];
    const threshold = warningAt(row.expiresAt, notifyBefore, now) ?? Math.round((row.expiresAt.getTime() - job.due) / 1000);
    row.nextNotifyAt = nextNotifyFor(row.expiresAt, notifyBefore, new Date(now.getTime() + 1));
    await tx.update(TokenRow, { tenantId: row.tenantId, id: row.id }, { nextNotifyAt: row.nextNotifyAt });
    return {
      result: { done: true, detail: `warned ${formatDuration(threshold)} before expiry` },
      event: {
        action: 'TOKEN_EXPIRING',
        actorId: null,
        targetType: 'TOKEN',
        targetId: row.id,
        data: { expiresAt: row.expiresAt.toISOString(), notifyBefore: formatDuration(threshold), nextWarningAt: row.nextNotifyAt?.toISOString() ?? null },
      },
    };
  };

  private retire: Handler = async (tx, job, row, _policy, now) => {
    const secret = await tx
      .createQueryBuilder(TokenSecretRow, 's')
      .where('s.tenantId = :tenantId AND s.id = :id', { tenantId: row.tenantId, id: job.secretId })
      .setLock('pessimistic_write')
      .getOne();
    if (!secret || secret.tokenId !== row.id) return skip('the secret no longer exists');
    if (secret.state !== 'PREVIOUS') return skip(`the secret is ${secret.state.toLowerCase()}`);
    if (secret.graceEndsAt?.getTime() !== job.due) return skip('the grace period was changed');
    await tx.update(TokenSecretRow, { tenantId: row.tenantId, id: secret.id }, { state: 'RETIRED', endedAt: now });
    // The grace period is over: a successor nobody picked up is deleted.
    await tx.query(`UPDATE token_secrets SET sealed = NULL, sealed_key_id = NULL WHERE tenant_id = $1 AND token_id = $2 AND sealed IS NOT NULL`, [row.tenantId, row.id]);
    await tx.update(TokenRow, { tenantId: row.tenantId, id: row.id }, { updatedAt: now });
    return {
      result: { done: true, detail: `retired generation ${secret.generation}` },
      event: {
        action: 'TOKEN_SECRET_RETIRED',
        actorId: null,
        targetType: 'TOKEN',
        targetId: row.id,
        data: { generation: secret.generation, hint: secret.hint, graceEndsAt: iso(job.due) },
      },
    };
  };
}
