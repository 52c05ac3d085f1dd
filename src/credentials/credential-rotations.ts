// Rotations of managed credentials through their rotators: one BullMQ job per step (create, set,
// test, finish), each step idempotent under the rotation's id, retried with backoff. The value a
// rotator makes is sealed as a PENDING version the moment it exists; only `finish` makes it
// CURRENT (through CredentialService.replaceCurrent, as a version added by hand). A step whose
// attempts run out fails the rotation: CURRENT untouched, PENDING kept sealed, and
// CREDENTIAL_ROTATION_FAILED audited with the step and a category or what the rotator answered
// (never a value, never a driver's words). A step that opens a built-in rotator's privileged
// connection appends CREDENTIAL_USED to that connection's history first. The clock's side
// (scheduled starts, abandoning stuck rotations, retiring values the system must refuse) is
// sweep(), run at every planner tick. Setting a rotator is rotator-configuration.ts.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { type Principal, requirePermission } from '../iam/principal';
import { Permission } from '../iam/permissions';
import type { Tx } from '../platform/db';
import { conflict } from '../platform/errors';
import { uuidv7 } from '../platform/ids';
import type { Metrics } from '../platform/metrics';
import { type Queues, QueueName, type RotationStepJob } from '../platform/queues';
import type { SecretBox } from '../platform/secret-box';
import { TenantScope } from '../platform/tenant-scope';
import type { Outbound } from '../outbound/outbound';
import {
  Credential,
  CredentialRotation,
  CredentialVersionState,
  ROTATION_STEPS,
  type RotationStep,
  RotationState,
} from './credential.entity';
import * as transitions from './credential-transitions';
import { checkName, lockedCredential } from './credential-rules';
import type { CredentialVersions } from './credential-versions';
import {
  type OpenConnection,
  PostgresRotator,
  RedisRotator,
  type RotationContext,
  type Rotator,
  RotatorError,
  type RotatorStep,
  WebhookRotator,
} from './rotators';

export interface RotationSettings {
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
}

const STALE_STEP_MS = 30_000;

export class CredentialRotations {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly versions: CredentialVersions,
    private readonly box: SecretBox,
    private readonly queues: Queues,
    private readonly outbound: Outbound,
    private readonly settings: RotationSettings,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Starts a rotation now (by hand), refused while one runs or, for built-in rotators, while a replaced value is in its grace. */
  async rotateNow(p: Principal, name: string): Promise<CredentialRotation> {
    requirePermission(p, Permission.CREDENTIAL_WRITE);
    checkName(name);
    const rotation = await this.ds.transaction(async (tx) =>
      this.start(tx, await lockedCredential(tx, p.tenantId, name), p.ownerId),
    );
    await this.enqueue(rotation, 'create');
    return rotation;
  }

  private async start(tx: Tx, c: Credential, actorId: string | null): Promise<CredentialRotation> {
    if (!c.rotator)
      throw conflict(`credential ${c.name} has no rotator: set one, or add a version by hand`, { argument: 'name' });
    if (c.rotator.kind !== 'WEBHOOK') {
      const [previous] = await tx.query(
        `SELECT version FROM credential_versions WHERE credential_id = $1 AND state = 'PREVIOUS'`,
        [c.id],
      );
      if (previous)
        throw conflict(
          `version ${previous.version} of ${c.name} is still in its grace; the ${c.rotator.kind} rotator starts after it is retired`,
          { argument: 'name' },
        );
    }
    const now = new Date();
    const rotation: CredentialRotation = {
      id: uuidv7(),
      tenantId: c.tenantId,
      credentialId: c.id,
      state: RotationState.RUNNING,
      step: 'create',
      pendingVersion: null,
      startedBy: actorId,
      startedAt: now,
      updatedAt: now,
      deadline: new Date(now.getTime() + this.settings.timeoutMs),
      endedAt: null,
      failure: null,
    };
    if (!(await transitions.startRotation(tx, rotation)))
      throw conflict(`a rotation of ${c.name} is already running`, { argument: 'name' });
    // A failed rotation kept its PENDING value sealed for inspection; a new rotation replaces it.
    await transitions.retire(tx, c.id, 'PENDING');
    if (c.rotateEveryS) await transitions.setNextRotation(tx, c.id, new Date(now.getTime() + c.rotateEveryS * 1000));
    await this.audit.append(tx, c.tenantId, {
      action: 'CREDENTIAL_ROTATION_STARTED',
      actorId,
      targetType: 'CREDENTIAL',
      targetId: c.id,
      data: { name: c.name, rotationId: rotation.id, rotator: c.rotator.kind },
    });
    return rotation;
  }

  private async enqueue(r: { id: string; tenantId: string }, step: RotationStep, delay = 0): Promise<void> {
    await this.queues.get(QueueName.CREDENTIAL_ROTATION).add(
      'step',
      { tenantId: r.tenantId, rotationId: r.id, step },
      {
        jobId: `rotation-${r.id}-${step}`,
        delay,
        attempts: this.settings.attempts,
        backoff: { type: 'exponential', delay: this.settings.backoffMs },
        removeOnComplete: { count: 10_000 },
        removeOnFail: { count: 10_000 },
      },
    );
  }

  /** One step (the BullMQ processor). A stale job (its rotation moved on or ended) does nothing. Throws to be retried. */
  async runStep(job: RotationStepJob): Promise<'done' | 'skipped'> {
    const scope = new TenantScope(this.ds.manager, job.tenantId);
    const [rotation] = await scope.findByIds(CredentialRotation, [job.rotationId]);
    if (!rotation || rotation.state !== RotationState.RUNNING || rotation.step !== job.step) return 'skipped';
    const [c] = await scope.findByIds(Credential, [rotation.credentialId]);
    const rotator = this.rotatorOf(c!);
    const ctx = await this.context(c!, rotation);
    switch (job.step) {
      case 'create': {
        // Idempotent: a PENDING version of this rotation means create already ran.
        if (ctx.pending === undefined) {
          const value = await rotator.create(ctx);
          await this.ds.transaction(async (tx) => {
            const locked = await lockedCredential(tx, c!.tenantId, c!.name);
            const version = await this.versions.nextVersion(tx, locked.id);
            await this.versions.insertVersion(
              tx,
              locked,
              version,
              value,
              null,
              null,
              CredentialVersionState.PENDING,
              rotation.id,
            );
            await transitions.setPendingVersion(tx, rotation.id, version);
          });
        }
        break;
      }
      case 'set':
        await rotator.set(ctx, this.connectionFor(c!, 'set', rotation.id));
        break;
      case 'test':
        await rotator.test(ctx);
        break;
      case 'finish':
        await rotator.finish(ctx);
        await this.finish(c!, rotation);
        this.metrics.credentialRotations.inc({ outcome: 'done' });
        return 'done';
    }
    const next = ROTATION_STEPS[ROTATION_STEPS.indexOf(job.step) + 1]!;
    if (await transitions.advanceStep(this.ds.manager, rotation.id, job.step, next)) await this.enqueue(rotation, next);
    return 'done';
  }

  /** The PENDING version becomes CURRENT, as a version added by hand would; the rotation is DONE. */
  private async finish(c: Credential, rotation: CredentialRotation): Promise<void> {
    await this.ds.transaction(async (tx) => {
      const locked = await lockedCredential(tx, c.tenantId, c.name);
      const [state] = await tx.query(`SELECT state FROM credential_rotations WHERE id = $1 FOR UPDATE`, [rotation.id]);
      if (state?.state !== 'RUNNING') return;
      await this.versions.replaceCurrent(
        tx,
        locked,
        locked.gracePeriodS,
        null,
        () => transitions.promotePending(tx, locked.id, rotation.id),
        { rotationId: rotation.id },
      );
      await transitions.finishRotation(tx, rotation.id);
      await this.audit.append(tx, c.tenantId, {
        action: 'CREDENTIAL_ROTATED',
        actorId: null,
        targetType: 'CREDENTIAL',
        targetId: c.id,
        data: { name: c.name, rotationId: rotation.id, version: rotation.pendingVersion },
      });
    });
    this.versions.notifyChanged();
  }

  /** A step's last attempt failed: the rotation fails, CURRENT untouched, the PENDING value kept sealed. */
  async fail(job: RotationStepJob, err: unknown): Promise<void> {
    // What the tenant sees (audit, failure, logs): the step and a category. The driver's own words
    // (no URL or value is ever in them) go to the debug log, to help an operator of Latchkey.
    const reason = (err instanceof RotatorError ? err.message : `${job.step}: failed`).slice(0, 500);
    const cause = err instanceof RotatorError ? err.cause : err;
    if (cause)
      this.log.debug(
        {
          rotationId: job.rotationId,
          step: job.step,
          cause: {
            name: (cause as Error).name,
            code: (cause as { code?: unknown }).code,
            message: (cause as Error).message,
          },
        },
        'rotation step failure, as the driver said it',
      );
    const failed = await this.ds.transaction(async (tx) => {
      const row = await transitions.failRotation(tx, job.rotationId, reason);
      if (!row) return false;
      await this.audit.append(tx, job.tenantId, {
        action: 'CREDENTIAL_ROTATION_FAILED',
        actorId: null,
        targetType: 'CREDENTIAL',
        targetId: row.credential_id,
        data: {
          name: row.name,
          rotationId: job.rotationId,
          step: job.step,
          reason,
          pendingVersion: row.pending_version,
        },
      });
      return true;
    });
    if (failed) {
      this.metrics.credentialRotations.inc({ outcome: 'failed' });
      this.log.warn(
        { rotationId: job.rotationId, tenantId: job.tenantId, step: job.step, reason },
        'credential rotation failed',
      );
    }
  }

  /**
   * The clock: abandons rotations past their deadline (the PENDING value destroyed, CURRENT
   * untouched), puts back the job of a running step nobody is working on (lost with Redis), and
   * starts scheduled rotations that are due.
   */
  async sweep(): Promise<{ abandoned: number; started: number; resumed: number }> {
    const abandoned = await this.ds.transaction(async (tx) => {
      const rows = await transitions.abandonOverdue(tx);
      for (const r of rows) {
        await this.audit.append(tx, r.tenant_id, {
          action: 'CREDENTIAL_ROTATION_ABANDONED',
          actorId: null,
          targetType: 'CREDENTIAL',
          targetId: r.credential_id,
          data: { name: r.name, rotationId: r.id, step: r.step },
        });
      }
      return rows;
    });
    if (abandoned.length) this.metrics.credentialRotations.inc({ outcome: 'abandoned' }, abandoned.length);

    const stale: Array<{ id: string; tenant_id: string; step: RotationStep }> = await this.ds.query(
      `SELECT id, tenant_id, step FROM credential_rotations WHERE state = 'RUNNING' AND updated_at < now() - $1 * interval '1 millisecond'`,
      [STALE_STEP_MS + this.settings.backoffMs * 2 ** this.settings.attempts],
    );
    let resumed = 0;
    for (const r of stale) {
      const job = await this.queues.get(QueueName.CREDENTIAL_ROTATION).getJob(`rotation-${r.id}-${r.step}`);
      if (!job) {
        await this.enqueue({ id: r.id, tenantId: r.tenant_id }, r.step);
        resumed++;
      }
    }

    const due: Array<{ id: string; tenant_id: string; name: string }> = await this.ds.query(
      `SELECT c.id, c.tenant_id, c.name FROM credentials c WHERE c.rotator IS NOT NULL AND c.next_rotation_at <= now()
          AND NOT EXISTS (SELECT 1 FROM credential_rotations r WHERE r.credential_id = c.id AND r.state = 'RUNNING') ORDER BY c.next_rotation_at LIMIT 100`,
    );
    let started = 0;
    for (const d of due) {
      try {
        const rotation = await this.ds.transaction(async (tx) =>
          this.start(tx, await lockedCredential(tx, d.tenant_id, d.name), null),
        );
        await this.enqueue(rotation, 'create');
        started++;
      } catch (err) {
        // In its grace, or started elsewhere a moment ago: the next tick looks again.
        this.log.debug({ err: (err as Error).message, credentialId: d.id }, 'scheduled rotation not started');
      }
    }
    return { abandoned: abandoned.length, started, resumed };
  }

  /** Before a built-in rotator's replaced version is destroyed at the end of its grace: the system is told to refuse it. */
  async refuseRetired(tenantId: string, credentialId: string, version: number): Promise<void> {
    const [c] = await new TenantScope(this.ds.manager, tenantId).findByIds(Credential, [credentialId]);
    if (!c?.rotator || c.rotator.kind === 'WEBHOOK') return;
    const old = await this.versions.openValue(c, { version });
    const current = await this.versions.openValue(c, { state: 'CURRENT' });
    if (old === undefined || current === undefined) return;
    // The rotation that replaced the retired value, named in the connection's history.
    const [made] = await this.ds.query(
      `SELECT rotation_id FROM credential_versions WHERE credential_id = $1 AND state = 'CURRENT'`,
      [c.id],
    );
    await this.rotatorOf(c).retire(old, current, this.connectionFor(c, 'retire', made?.rotation_id ?? null));
  }

  private rotatorOf(c: Credential): Rotator {
    const r = c.rotator!;
    if (r.kind === 'WEBHOOK')
      return new WebhookRotator(
        this.outbound.http,
        r.url,
        this.box.open({ ciphertext: c.rotatorSecretCiphertext!, keyId: c.rotatorSecretKeyId! }, `rotator:${c.id}`),
      );
    if (r.kind === 'POSTGRES') return new PostgresRotator(this.outbound.databases, r.roles);
    return new RedisRotator(this.outbound.databases);
  }

  private async context(c: Credential, rotation: CredentialRotation): Promise<RotationContext> {
    const current = await this.versions.openValue(c, { state: 'CURRENT' });
    const pending = await this.versions.openValue(c, { state: 'PENDING', rotationId: rotation.id });
    // Before create, the version it is about to make.
    const pendingVersion = rotation.pendingVersion ?? (await this.versions.nextVersion(this.ds.manager, c.id));
    return { rotationId: rotation.id, name: c.name, current: current!, pending, pendingVersion };
  }

  /**
   * Opens a built-in rotator's privileged connection for one step: its use is appended to the
   * connection's history (CREDENTIAL_USED) before its value is opened, as a reveal would be.
   */
  private connectionFor(c: Credential, step: RotatorStep, rotationId: string | null): OpenConnection {
    return async () => {
      const name = c.rotator?.kind === 'WEBHOOK' ? null : c.rotator?.connection;
      const [conn] = name
        ? await new TenantScope(this.ds.manager, c.tenantId)
            .select(Credential, 'c')
            .andWhere('c.name = :name', { name })
            .getMany()
        : [];
      if (!conn) throw new RotatorError(step, 'the privileged connection is gone');
      await this.ds.transaction((tx) =>
        this.audit.append(tx, c.tenantId, {
          action: 'CREDENTIAL_USED',
          actorId: null,
          targetType: 'CREDENTIAL',
          targetId: conn.id,
          data: { name: conn.name, credential: c.name, step, rotationId },
        }),
      );
      const value = await this.versions.openValue(conn, { state: 'CURRENT' });
      if (!value) throw new RotatorError(step, 'the privileged connection has no readable value');
      return value;
    };
  }
}
