// Who may read a credential's values: grants, their withdrawal, and the rule that what would pass
// a value on (a grant, a rotator) is for its readers or CREDENTIAL_ADMIN.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { assertHoldersHoldPowerOf } from '../iam/owner-power';
import { type Principal, requirePermission } from '../iam/principal';
import { Permission } from '../iam/permissions';
import { groupBy } from '../platform/batch';
import type { Tx } from '../platform/db';
import { forbidden } from '../platform/errors';
import { requireId } from '../platform/ids';
import { assertBelowQuota, QUOTAS } from '../platform/quotas';
import { TenantScope } from '../platform/tenant-scope';
import { Owner } from '../owners/owner.entity';
import { type Credential, CredentialGrant } from './credential.entity';
import { checkName, committed, lockedCredential } from './credential-rules';

export class CredentialGrants {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    /** Runs after every committed change (the reveal path forgets what it remembered). */
    private readonly changed: () => void = () => undefined,
  ) {}

  /** The readers of each credential (at most QUOTAS.readersPerCredential), in the order they were granted. */
  async grantsByCredentialIds(tenantId: string, credentialIds: readonly string[]): Promise<CredentialGrant[][]> {
    const rows = await new TenantScope(this.ds.manager, tenantId)
      .select(CredentialGrant, 'g')
      .andWhere('g.credentialId IN (:...credentialIds)', { credentialIds })
      .orderBy('g.createdAt', 'ASC')
      .getMany();
    return groupBy(credentialIds, rows, (g) => g.credentialId);
  }

  /** Names of the credentials an owner is granted to read. */
  async grantedNames(tenantId: string, ownerId: string): Promise<Set<string>> {
    const rows: Array<{ name: string }> = await this.ds.query(
      `SELECT c.name FROM credential_grants g JOIN credentials c ON c.id = g.credential_id WHERE g.tenant_id = $1 AND g.owner_id = $2`,
      [tenantId, ownerId],
    );
    return new Set(rows.map((r) => r.name));
  }

  /**
   * Lets an owner read the credential's values. Nobody gives what it does not hold: granting on a
   * credential the caller cannot read itself (oneself included) takes CREDENTIAL_ADMIN, or a
   * writer would grant itself, or an owner whose token it holds, and read everything.
   */
  async grant(p: Principal, name: string, ownerId: string): Promise<CredentialGrant> {
    requirePermission(p, Permission.CREDENTIAL_WRITE);
    requireId(ownerId, 'ownerId');
    return committed(this.ds, this.changed, async (tx) => {
      const credential = await lockedCredential(tx, p.tenantId, checkName(name));
      await this.assertMayPassOn(tx, p, credential, 'grant others on');
      await new TenantScope(tx, p.tenantId).get(Owner, ownerId, 'owner');
      await assertBelowQuota(
        tx,
        `readers of credential ${credential.name}`,
        QUOTAS.readersPerCredential,
        'credential_grants WHERE credential_id = $1 AND owner_id <> $2',
        [credential.id, ownerId],
      );
      const grant: CredentialGrant = {
        tenantId: p.tenantId,
        credentialId: credential.id,
        ownerId,
        grantedBy: p.ownerId,
        createdAt: new Date(),
      };
      const inserted = await tx.query(
        `INSERT INTO credential_grants (tenant_id, credential_id, owner_id, granted_by, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING owner_id`,
        [grant.tenantId, grant.credentialId, grant.ownerId, grant.grantedBy, grant.createdAt],
      );
      if (inserted.length === 0)
        return (await new TenantScope(tx, p.tenantId)
          .select(CredentialGrant, 'g')
          .andWhere('g.credentialId = :c AND g.ownerId = :o', { c: credential.id, o: ownerId })
          .getOne())!;
      await assertHoldersHoldPowerOf(tx, p.tenantId, [ownerId]);
      await this.audit.append(tx, p.tenantId, {
        action: 'CREDENTIAL_GRANTED',
        actorId: p.ownerId,
        targetType: 'CREDENTIAL',
        targetId: credential.id,
        data: { name: credential.name, ownerId, self: ownerId === p.ownerId },
      });
      return grant;
    });
  }

  /** Withdraws an owner's right to read values; true when it had one. */
  async revokeAccess(p: Principal, name: string, ownerId: string): Promise<boolean> {
    requirePermission(p, Permission.CREDENTIAL_WRITE);
    requireId(ownerId, 'ownerId');
    return committed(this.ds, this.changed, async (tx) => {
      const credential = await lockedCredential(tx, p.tenantId, checkName(name));
      const [, count] = await tx.query(
        `DELETE FROM credential_grants WHERE tenant_id = $1 AND credential_id = $2 AND owner_id = $3`,
        [p.tenantId, credential.id, ownerId],
      );
      if (!count) return false;
      await this.audit.append(tx, p.tenantId, {
        action: 'CREDENTIAL_ACCESS_REVOKED',
        actorId: p.ownerId,
        targetType: 'CREDENTIAL',
        targetId: credential.id,
        data: { name: credential.name, ownerId },
      });
      return true;
    });
  }

  /** Whether the owner is granted to read the credential. */
  async isGranted(tx: Tx, tenantId: string, credentialId: string, ownerId: string): Promise<boolean> {
    const [row] = await tx.query(
      `SELECT 1 FROM credential_grants WHERE tenant_id = $1 AND credential_id = $2 AND owner_id = $3`,
      [tenantId, credentialId, ownerId],
    );
    return !!row;
  }

  /**
   * Writing is not reading: what would send a credential's value somewhere (a grant, a rotator)
   * is for its readers, or for CREDENTIAL_ADMIN. `verb` says what was refused.
   */
  async assertMayPassOn(tx: Tx, p: Principal, credential: Credential, verb: string): Promise<void> {
    if (
      p.permissions.has(Permission.CREDENTIAL_ADMIN) ||
      (await this.isGranted(tx, p.tenantId, credential.id, p.ownerId))
    )
      return;
    throw forbidden(
      `you may not ${verb} credential ${credential.name}: you are not granted to read it, and CREDENTIAL_ADMIN is needed`,
      {
        argument: 'name',
        missingPermissions: [Permission.CREDENTIAL_ADMIN],
      },
    );
  }
}
