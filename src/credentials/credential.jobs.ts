// What happens to credentials on the clock, run by the workers at every planner tick: PREVIOUS
// versions whose grace ended are retired (their ciphertext destroyed), and versions carrying the
// vendor's expiry are warned about at the notify offsets (the credential's policy's, else a week
// and a day before) and reported when they expire. Rows are taken in batches, locked and skipped
// when another worker holds them, each batch audited in its transaction: exactly once.
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { AuditEntry, AuditService } from '../audit/audit.service';
import type { Tx } from '../platform/db';
import * as transitions from './credential-transitions';

/** Warnings before a vendor's expiry when the credential has no policy saying otherwise. */
export const DEFAULT_NOTIFY_BEFORE_S = [7 * 86_400, 86_400];
const BATCH = 500;
/** Credentials whose replaced values only need destroying here (no system to tell first). */
const NOT_BUILT_IN = `(c.rotator IS NULL OR c.rotator->>'kind' = 'WEBHOOK')`;

/** The next instant to say something about an expiry after `now`: a warning offset, or the expiry itself. */
export function nextNotifyAt(expiresAt: Date, offsetsS: readonly number[], now = Date.now()): Date {
  const due = offsetsS.map((s) => expiresAt.getTime() - s * 1000).filter((t) => t > now);
  return new Date(due.length > 0 ? Math.min(...due) : expiresAt.getTime());
}

/** For a new version: now when a warning is already due (its offset passed, the expiry has not), else the next instant. */
export function firstNotifyAt(expiresAt: Date, offsetsS: readonly number[], now = Date.now()): Date {
  const warned = offsetsS.some((s) => expiresAt.getTime() - s * 1000 <= now);
  return warned && expiresAt.getTime() > now ? new Date(now) : nextNotifyAt(expiresAt, offsetsS, now);
}

export interface SweepReport {
  retired: number;
  expiring: number;
  expired: number;
}

export class CredentialJobs {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly log: Logger,
    /** Before a built-in rotator's version is destroyed: make the system refuse its value (rotations). */
    private readonly refuseRetired: (
      tenantId: string,
      credentialId: string,
      version: number,
    ) => Promise<void> = async () => undefined,
    /** Most replaced values of one tenant told to a system outside per tick (OUTBOUND_TENANT_SLOTS). */
    private readonly perTenant = 4,
  ) {}

  async sweep(): Promise<SweepReport> {
    const report: SweepReport = { retired: 0, expiring: 0, expired: 0 };
    while (await this.batch((tx) => this.retireBatch(tx, report)));
    await this.retireBuiltIn(report);
    while (await this.batch((tx) => this.notifyBatch(tx, report)));
    if (report.retired + report.expiring + report.expired > 0) this.log.info(report, 'credential lifecycle sweep');
    return report;
  }

  private batch(work: (tx: Tx) => Promise<number>): Promise<boolean> {
    return this.ds.transaction(async (tx) => (await work(tx)) === BATCH);
  }

  private async retireBatch(tx: Tx, report: SweepReport): Promise<number> {
    const rows = await transitions.retireDue(tx, NOT_BUILT_IN, BATCH);
    await this.appendByTenant(tx, rows, (r) => ({
      action: 'CREDENTIAL_VERSION_RETIRED',
      actorId: null,
      targetType: 'CREDENTIAL',
      targetId: r.credential_id,
      data: { name: r.name, version: r.version },
    }));
    report.retired += rows.length;
    return rows.length;
  }

  /**
   * Versions of credentials a built-in rotator keeps: the system is told to refuse the value
   * first; one that could not be told keeps its version until the next tick tries again. The calls
   * run side by side, each under the outbound deadline, at most `perTenant` of one tenant's a tick:
   * one tenant's unreachable servers hold the tick no longer than one deadline.
   */
  private async retireBuiltIn(report: SweepReport): Promise<void> {
    const due: Array<{ tenant_id: string; credential_id: string; version: number; name: string }> = await this.ds.query(
      `SELECT v.tenant_id, v.credential_id, v.version, c.name FROM credential_versions v JOIN credentials c ON c.id = v.credential_id
        WHERE v.state = 'PREVIOUS' AND v.grace_ends_at <= now() AND NOT ${NOT_BUILT_IN} ORDER BY v.grace_ends_at LIMIT 100`,
    );
    const taken = new Map<string, number>();
    const fair = due.filter((r) => {
      const n = taken.get(r.tenant_id) ?? 0;
      taken.set(r.tenant_id, n + 1);
      return n < this.perTenant;
    });
    await Promise.all(fair.map((r) => this.retireOne(r, report)));
  }

  private async retireOne(
    r: { tenant_id: string; credential_id: string; version: number; name: string },
    report: SweepReport,
  ): Promise<void> {
    try {
      await this.refuseRetired(r.tenant_id, r.credential_id, r.version);
    } catch (err) {
      this.log.warn(
        { err: { message: (err as Error).message }, credentialId: r.credential_id, version: r.version },
        'could not retire a replaced value in its system; retrying at the next tick',
      );
      return;
    }
    await this.ds.transaction(async (tx) => {
      if (!(await transitions.retirePrevious(tx, r.credential_id, r.version))) return;
      await this.audit.append(tx, r.tenant_id, {
        action: 'CREDENTIAL_VERSION_RETIRED',
        actorId: null,
        targetType: 'CREDENTIAL',
        targetId: r.credential_id,
        data: { name: r.name, version: r.version },
      });
      report.retired++;
    });
  }

  private async notifyBatch(tx: Tx, report: SweepReport): Promise<number> {
    const rows: Array<{
      id: string;
      tenant_id: string;
      credential_id: string;
      version: number;
      name: string;
      expires_at: Date;
      offsets: number[] | null;
    }> = await tx.query(
      `SELECT v.id, v.tenant_id, v.credential_id, v.version, c.name, v.expires_at, p.notify_before_s AS offsets
         FROM credential_versions v
         JOIN credentials c ON c.id = v.credential_id
         LEFT JOIN rotation_policies p ON p.tenant_id = c.tenant_id AND p.id = c.rotation_policy_id
        WHERE v.state IN ('CURRENT', 'PREVIOUS') AND v.next_notify_at IS NOT NULL AND v.next_notify_at <= now()
        ORDER BY v.next_notify_at LIMIT ${BATCH} FOR UPDATE OF v SKIP LOCKED`,
    );
    const now = Date.now();
    const expired = rows.map((r) => r.expires_at.getTime() <= now);
    const next = rows.map((r, i) =>
      expired[i] ? null : nextNotifyAt(r.expires_at, r.offsets?.length ? r.offsets : DEFAULT_NOTIFY_BEFORE_S, now),
    );
    const said = new Map(rows.map((r, i) => [r.id, expired[i]!]));
    report.expired += expired.filter(Boolean).length;
    report.expiring += expired.filter((e) => !e).length;
    await this.appendByTenant(tx, rows, (r) => ({
      action: said.get(r.id) ? 'CREDENTIAL_EXPIRED' : 'CREDENTIAL_EXPIRING',
      actorId: null,
      targetType: 'CREDENTIAL',
      targetId: r.credential_id,
      data: {
        name: r.name,
        version: r.version,
        expiresAt: r.expires_at.toISOString(),
        ...(said.get(r.id) ? {} : { expiresInSeconds: Math.round((r.expires_at.getTime() - now) / 1000) }),
      },
    }));
    await transitions.setNextNotify(
      tx,
      rows.map((r) => r.id),
      next,
    );
    return rows.length;
  }

  private async appendByTenant<R extends { tenant_id: string }>(
    tx: Tx,
    rows: R[],
    entry: (r: R) => AuditEntry,
  ): Promise<void> {
    const byTenant = new Map<string, AuditEntry[]>();
    for (const r of rows) byTenant.set(r.tenant_id, [...(byTenant.get(r.tenant_id) ?? []), entry(r)]);
    // Tenants in a fixed order, so two sweeps never wait on each other's chain heads crosswise.
    for (const tenantId of [...byTenant.keys()].sort()) await this.audit.append(tx, tenantId, byTenant.get(tenantId)!);
  }
}
