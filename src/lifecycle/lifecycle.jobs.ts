// What the workers do when a scheduled action falls due. Each action re-reads and locks its token,
// checks that it is still due and still in the state it was planned for, acts, and appends its
// audit event in the same transaction. Jobs that fall due together run as one transaction.
import type { Logger } from 'pino';
import { type DataSource, In } from 'typeorm';
import type { AuditEntry, AuditService } from '../audit/audit.service';
import type { ChangeNotifier } from '../platform/change-notifier';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { graceFor, nextNotifyFor, warningAt } from '../policies/schedule';
import type { Tx } from '../platform/db';
import { formatDuration } from '../platform/iso-duration';
import type { LifecycleJob, LifecycleQueue } from '../platform/queues';
import type { SuccessorSeal } from '../tokens/successor-seal';
import type { TokenRow } from '../tokens/token.entity';
import { TokenSecretRow } from '../tokens/token-secret.entity';
import type { SecretHasher } from '../tokens/secret-hasher';
import { addGenerations, expireTokenRows, retireSecrets, setNextWarnings } from '../tokens/token-transitions';

export interface ActionResult {
  done: boolean;
  /** What was done, or why nothing was. */
  detail: string;
}

/** The columns an action reads and moves. */
type LockedRow = Pick<
  TokenRow,
  | 'id'
  | 'tenantId'
  | 'status'
  | 'generation'
  | 'rotationPolicyId'
  | 'expiresAt'
  | 'nextRotationAt'
  | 'nextNotifyAt'
  | 'updatedAt'
>;

const lockedRow = (r: Record<string, never>): LockedRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  status: r.status,
  generation: r.generation,
  rotationPolicyId: r.rotation_policy_id,
  expiresAt: r.expires_at,
  nextRotationAt: r.next_rotation_at,
  nextNotifyAt: r.next_notify_at,
  updatedAt: r.updated_at,
});

/** A job whose token (and secret) passed the re-check, ready to act on. */
interface Due {
  index: number;
  job: LifecycleJob;
  row: LockedRow;
  policy: RotationPolicy | null;
  secret?: TokenSecretRow;
}

interface Kind {
  /** Whether acting changes what verification answers (a warning does not). */
  invalidates: boolean;
  /** Why nothing is to be done (the token changed since the job was planned), or null to act. */
  check(due: Due, now: Date): string | null;
  /** Acts on every due job of one tenant in a few statements; returns what each did and its event. */
  apply(tx: Tx, tenantId: string, due: Due[], now: Date): Promise<Array<{ detail: string; event: AuditEntry }>>;
}

const iso = (ms: number) => new Date(ms).toISOString();
/** Jobs are delayed until due; a clock a little behind Redis's must not make them look early. */
const EARLY_TOLERANCE_MS = 1_000;
const live = (row: LockedRow) => row.status === 'ACTIVE' || row.status === 'SUSPENDED';

class EarlyJobError extends Error {}

export class LifecycleActions {
  private readonly kinds: Record<LifecycleQueue, Kind>;

  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly hasher: SecretHasher,
    private readonly successors: SuccessorSeal,
    private readonly changes: ChangeNotifier,
    private readonly log: Logger,
  ) {
    this.kinds = { rotate: this.rotate, expire: this.expire, notify: this.notify, retire: this.retire };
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
      if (job.due > now.getTime() + EARLY_TOLERANCE_MS)
        throw new EarlyJobError(`${kind} job for ${job.tokenId} ran ${job.due - now.getTime()} ms early`);
    }
    const { results, changed } = await this.ds.transaction(async (tx) => {
      const ids = [...new Set(jobs.map((j) => j.tokenId))];
      // Locked in id order, tokens before secrets, as every writer does: no deadlocks.
      const rows: LockedRow[] = (
        (await tx.query(
          `SELECT id, tenant_id, status, generation, rotation_policy_id, expires_at, next_rotation_at, next_notify_at, updated_at
             FROM tokens WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
          [ids],
        )) as Array<Record<string, never>>
      ).map(lockedRow);
      const byId = new Map(rows.map((r) => [r.id, r]));
      const policyIds = [...new Set(rows.map((r) => r.rotationPolicyId).filter((id): id is string => id !== null))];
      const policies = new Map(
        (policyIds.length ? await tx.findBy(RotationPolicy, { id: In(policyIds) }) : []).map((p) => [p.id, p]),
      );
      const secretIds = jobs.map((j) => j.secretId).filter((id): id is string => !!id);
      const secrets = new Map(
        (secretIds.length
          ? await tx
              .createQueryBuilder(TokenSecretRow, 's')
              .where('s.id IN (:...secretIds)', { secretIds })
              .orderBy('s.id', 'ASC')
              .setLock('pessimistic_write')
              .getMany()
          : []
        ).map((x) => [x.id, x]),
      );
      const results: ActionResult[] = [];
      const byTenant = new Map<string, Due[]>();
      const taken = new Set<string>();
      jobs.forEach((job, index) => {
        const row = byId.get(job.tokenId);
        const secret = job.secretId ? secrets.get(job.secretId) : undefined;
        let why: string | null;
        if (!row || row.tenantId !== job.tenantId) why = 'the token no longer exists';
        else if (job.secretId && (!secret || secret.tokenId !== row.id)) why = 'the secret no longer exists';
        // Two jobs for the same thing in one batch (a stale one and its re-plan): one acts.
        else if (taken.has(job.secretId ?? job.tokenId)) why = 'already acted on in this batch';
        else
          why = this.kinds[kind].check(
            {
              index,
              job,
              row,
              policy: row.rotationPolicyId ? (policies.get(row.rotationPolicyId) ?? null) : null,
              secret,
            },
            now,
          );
        results.push({ done: false, detail: why ?? '' });
        if (why !== null) return;
        taken.add(job.secretId ?? job.tokenId);
        const list = byTenant.get(row!.tenantId) ?? [];
        list.push({
          index,
          job,
          row: row!,
          policy: row!.rotationPolicyId ? (policies.get(row!.rotationPolicyId) ?? null) : null,
          secret,
        });
        byTenant.set(row!.tenantId, list);
      });
      const changed: string[] = [];
      for (const [tenantId, due] of byTenant) {
        const outcomes = await this.kinds[kind].apply(tx, tenantId, due, now);
        due.forEach((d, i) => {
          results[d.index] = { done: true, detail: outcomes[i]!.detail };
          if (this.kinds[kind].invalidates) changed.push(d.row.id);
        });
        await this.audit.append(
          tx,
          tenantId,
          outcomes.map((o) => o.event),
        );
      }
      return { results, changed };
    });
    await this.changes.tokensChanged(changed);
    return results;
  }

  private readonly rotate: Kind = {
    invalidates: true,
    check: ({ job, row }, now) => {
      if (row.status !== 'ACTIVE') return `the token is ${row.status.toLowerCase()}`;
      if (row.generation !== job.generation)
        return `the token was rotated since (generation ${row.generation}, planned at ${job.generation})`;
      if (row.nextRotationAt?.getTime() !== job.due) return 'the rotation was re-planned';
      if (row.expiresAt && row.expiresAt <= now) return 'the token has expired';
      return null;
    },
    apply: async (tx, tenantId, due, now) => {
      const items = due.map((d) => ({ row: d.row, grace: graceFor(null, d.policy), policy: d.policy }));
      const rotated = await addGenerations(tx, this.hasher, tenantId, items, now, (secretId, secret) =>
        this.successors.seal(secretId, secret),
      );
      return due.map((d, i) => ({
        detail: `rotated to generation ${d.row.generation}`,
        event: {
          action: 'TOKEN_ROTATED',
          actorId: null,
          targetType: 'TOKEN',
          targetId: d.row.id,
          data: {
            generation: d.row.generation,
            gracePeriod: formatDuration(items[i]!.grace),
            previousGraceEndsAt: rotated[i]!.graceEndsAt?.toISOString() ?? null,
            scheduled: true,
            dueAt: iso(d.job.due),
          },
        },
      }));
    },
  };

  private readonly expire: Kind = {
    invalidates: true,
    check: ({ job, row }) => {
      if (!live(row)) return `the token is ${row.status.toLowerCase()}`;
      if (row.expiresAt?.getTime() !== job.due) return 'the expiry was re-planned';
      return null;
    },
    apply: async (tx, tenantId, due, now) => {
      const ids = due.map((d) => d.row.id);
      await expireTokenRows(tx, tenantId, ids, now);
      return due.map((d) => {
        d.row.status = 'EXPIRED';
        return {
          detail: 'expired',
          event: {
            action: 'TOKEN_EXPIRED',
            actorId: null,
            targetType: 'TOKEN',
            targetId: d.row.id,
            data: { expiresAt: iso(d.job.due) },
          },
        };
      });
    },
  };

  private readonly notify: Kind = {
    invalidates: false,
    check: ({ job, row }, now) => {
      if (!live(row)) return `the token is ${row.status.toLowerCase()}`;
      if (row.nextNotifyAt?.getTime() !== job.due || !row.expiresAt) return 'the warning was re-planned';
      if (row.expiresAt <= now) return 'the token has expired';
      return null;
    },
    apply: async (tx, tenantId, due, now) => {
      const outcomes = due.map(({ job, row, policy }) => {
        const expiresAt = row.expiresAt!;
        const notifyBefore = policy?.notifyBefore ?? [];
        const threshold = warningAt(expiresAt, notifyBefore, now) ?? Math.round((expiresAt.getTime() - job.due) / 1000);
        row.nextNotifyAt = nextNotifyFor(expiresAt, notifyBefore, new Date(now.getTime() + 1));
        return {
          detail: `warned ${formatDuration(threshold)} before expiry`,
          event: {
            action: 'TOKEN_EXPIRING' as const,
            actorId: null,
            targetType: 'TOKEN',
            targetId: row.id,
            data: {
              expiresAt: expiresAt.toISOString(),
              notifyBefore: formatDuration(threshold),
              nextWarningAt: row.nextNotifyAt?.toISOString() ?? null,
            },
          },
        };
      });
      await setNextWarnings(
        tx,
        tenantId,
        due.map((d) => d.row.id),
        due.map((d) => d.row.nextNotifyAt),
      );
      return outcomes;
    },
  };

  private readonly retire: Kind = {
    invalidates: true,
    check: ({ job, secret }) => {
      if (secret!.state !== 'PREVIOUS') return `the secret is ${secret!.state.toLowerCase()}`;
      if (secret!.graceEndsAt?.getTime() !== job.due) return 'the grace period was changed';
      return null;
    },
    apply: async (tx, tenantId, due, now) => {
      const tokenIds = due.map((d) => d.row.id);
      // The grace period is over: a successor nobody picked up is deleted with it.
      await retireSecrets(
        tx,
        tenantId,
        due.map((d) => d.secret!.id),
        tokenIds,
        now,
      );
      return due.map(({ job, row, secret }) => ({
        detail: `retired generation ${secret!.generation}`,
        event: {
          action: 'TOKEN_SECRET_RETIRED',
          actorId: null,
          targetType: 'TOKEN',
          targetId: row.id,
          data: { generation: secret!.generation, hint: secret!.hint, graceEndsAt: iso(job.due) },
        },
      }));
    },
  };
}
