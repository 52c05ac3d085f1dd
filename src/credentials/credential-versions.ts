// A credential's versions: the one way a version is sealed and inserted, the one way one becomes
// CURRENT (by hand or at a rotation's finish), and opening a value for Latchkey's own use.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { type Principal, requirePermission } from '../iam/principal';
import { Permission } from '../iam/permissions';
import type { Tx } from '../platform/db';
import { uuidv7 } from '../platform/ids';
import { TenantScope } from '../platform/tenant-scope';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { DEFAULT_NOTIFY_BEFORE_S, firstNotifyAt } from './credential.jobs';
import { type Credential, type CredentialVersion, CredentialVersionState } from './credential.entity';
import * as transitions from './credential-transitions';
import { checkGrace, checkName, checkValue, committed, lockedCredential, versionContext } from './credential-rules';
import type { DataKeys } from './data-keys';

/** A policy's notifyBefore, or the defaults when it has none. */
export const offsetsOf = (notifyBefore: readonly number[]): readonly number[] =>
  notifyBefore.length ? notifyBefore : DEFAULT_NOTIFY_BEFORE_S;

export interface NewVersion {
  name: string;
  value: string;
  expiresAt?: Date | null;
  /** Seconds the replaced version stays readable (PREVIOUS) before it is retired; 0 retires it at once. */
  gracePeriod: number;
}

export class CredentialVersions {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly keys: DataKeys,
    /** Runs after every committed change (the reveal path forgets what it remembered). */
    private readonly changed: () => void = () => undefined,
  ) {}

  /** Tells the reveal path that something changed outside these methods (a rotation finished). */
  notifyChanged(): void {
    this.changed();
  }

  /**
   * A version's value, opened in memory for Latchkey's own use (a rotator, a check of where it
   * points), never handed to a caller: reveals are credential-reveal.ts. undefined when there is none.
   */
  async openValue(
    c: Pick<Credential, 'tenantId' | 'id'>,
    where: { state: 'CURRENT' } | { state: 'PENDING'; rotationId: string } | { version: number },
  ): Promise<string | undefined> {
    const [condition, param] =
      'version' in where
        ? ['version = $3', where.version]
        : where.state === 'PENDING'
          ? [`state = 'PENDING' AND rotation_id = $3`, where.rotationId]
          : [`state = 'CURRENT'`, null];
    const [v] = await this.ds.query(
      `SELECT version, ciphertext, data_key_id FROM credential_versions WHERE tenant_id = $1 AND credential_id = $2 AND ${condition}`,
      param === null ? [c.tenantId, c.id] : [c.tenantId, c.id, param],
    );
    if (!v?.ciphertext) return undefined;
    return this.keys.open(c.tenantId, v.data_key_id, v.ciphertext, versionContext(c.tenantId, c.id, v.version));
  }

  /**
   * A new CURRENT version (a person pasted the vendor's new value). The version it replaces
   * stays readable as PREVIOUS until the grace ends (then the jobs retire it); one already
   * PREVIOUS is retired now. Returns the new version.
   */
  async addVersion(p: Principal, input: NewVersion): Promise<CredentialVersion> {
    requirePermission(p, Permission.CREDENTIAL_WRITE);
    checkName(input.name);
    checkValue(input.value);
    checkGrace(input.gracePeriod);
    return committed(this.ds, this.changed, async (tx) => {
      const credential = await lockedCredential(tx, p.tenantId, input.name);
      const next = await this.nextVersion(tx, credential.id);
      return this.replaceCurrent(tx, credential, input.gracePeriod, p.ownerId, () =>
        this.insertVersion(tx, credential, next, input.value, input.expiresAt ?? null, p.ownerId),
      );
    });
  }

  async nextVersion(tx: Tx, credentialId: string): Promise<number> {
    const rows = await tx.query(`SELECT max(version) AS v FROM credential_versions WHERE credential_id = $1`, [
      credentialId,
    ]);
    return Number(rows[0].v) + 1;
  }

  /**
   * The one way a version becomes CURRENT (by hand, or at a rotation's finish), the credential's
   * row locked by the caller: what was PREVIOUS is retired, the CURRENT one becomes PREVIOUS for
   * `graceS` (retired at once when 0), then `makeCurrent` puts the new one in place. Audited.
   */
  async replaceCurrent(
    tx: Tx,
    credential: Credential,
    graceS: number,
    actorId: string | null,
    makeCurrent: () => Promise<CredentialVersion>,
    extra: Record<string, unknown> = {},
  ): Promise<CredentialVersion> {
    const graceEndsAt = new Date(Date.now() + graceS * 1000);
    const retired = await transitions.retire(tx, credential.id, graceS === 0 ? 'PREVIOUS_AND_CURRENT' : 'PREVIOUS');
    const replaced = graceS === 0 ? null : await transitions.demoteCurrent(tx, credential.id, graceEndsAt);
    const version = await makeCurrent();
    await transitions.touch(tx, credential.id);
    await this.audit.append(tx, credential.tenantId, [
      ...retired.map((v) => ({
        action: 'CREDENTIAL_VERSION_RETIRED' as const,
        actorId,
        targetType: 'CREDENTIAL',
        targetId: credential.id,
        data: { name: credential.name, version: v },
      })),
      {
        action: 'CREDENTIAL_VERSION_ADDED',
        actorId,
        targetType: 'CREDENTIAL',
        targetId: credential.id,
        data: {
          name: credential.name,
          version: version.version,
          previousVersion: replaced,
          previousGraceEndsAt: replaced ? graceEndsAt.toISOString() : null,
          expiresAt: version.expiresAt?.toISOString() ?? null,
          ...extra,
        },
      },
    ]);
    return version;
  }

  private async notifyOffsets(tx: Tx, c: Credential): Promise<readonly number[]> {
    if (!c.rotationPolicyId) return DEFAULT_NOTIFY_BEFORE_S;
    const [policy] = await new TenantScope(tx, c.tenantId).findByIds(RotationPolicy, [c.rotationPolicyId]);
    return offsetsOf(policy?.notifyBefore ?? []);
  }

  async insertVersion(
    tx: Tx,
    credential: Credential,
    version: number,
    value: string,
    expiresAt: Date | null,
    createdBy: string | null,
    state: CredentialVersionState.CURRENT | CredentialVersionState.PENDING = CredentialVersionState.CURRENT,
    rotationId: string | null = null,
  ): Promise<CredentialVersion> {
    const key = await this.keys.forTenant(tx, credential.tenantId);
    const row: CredentialVersion = {
      id: uuidv7(),
      tenantId: credential.tenantId,
      credentialId: credential.id,
      version,
      state,
      ciphertext: this.keys.seal(key, value, versionContext(credential.tenantId, credential.id, version)),
      dataKeyId: key.id,
      expiresAt,
      graceEndsAt: null,
      createdBy,
      createdAt: new Date(),
      retiredAt: null,
      nextNotifyAt: expiresAt ? firstNotifyAt(expiresAt, await this.notifyOffsets(tx, credential)) : null,
      rotationId,
    };
    await transitions.insertVersion(tx, row);
    return row;
  }
}
