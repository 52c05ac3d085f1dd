// Managed credentials: create them, change what is known about them, list and read them (never a
// value). A credential's versions are credential-versions.ts, who may read values
// credential-grants.ts, reading values credential-reveal.ts, retiring versions and expiry warnings
// credential.jobs.ts. "Exactly one CURRENT" is kept by the row lock (credential-rules.ts) and a
// unique index.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { type Principal, requirePermission } from '../iam/principal';
import { Permission } from '../iam/permissions';
import { isUniqueViolation } from '../platform/db';
import { badInput, conflict } from '../platform/errors';
import { decodeCursor, requireId, uuidv7 } from '../platform/ids';
import { type Connection, connection, pageSize } from '../platform/pagination';
import { byKey } from '../platform/batch';
import { TenantScope } from '../platform/tenant-scope';
import { Owner } from '../owners/owner.entity';
import { validateLabels } from '../platform/labels';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { nextNotifyAt } from './credential.jobs';
import { Credential, CredentialRotation, CredentialVersion } from './credential.entity';
import * as transitions from './credential-transitions';
import { checkName, checkText, checkValue, committed, isCredentialName, lockedCredential } from './credential-rules';
import { ROTATIONS_SHOWN } from './credential.types';
import { type CredentialVersions, offsetsOf } from './credential-versions';

export interface CreateCredential {
  name: string;
  service?: string | null;
  description?: string | null;
  ownerId?: string | null;
  labels?: Record<string, unknown> | null;
  value: string;
  expiresAt?: Date | null;
}

export class CredentialService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly credentialVersions: CredentialVersions,
    /** Runs after every committed change (the reveal path forgets what it remembered). */
    private readonly changed: () => void = () => undefined,
  ) {}

  async list(
    p: Principal,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<Credential>> {
    requirePermission(p, Permission.CREDENTIAL_READ);
    const limit = pageSize(first);
    const qb = new TenantScope(this.ds.manager, p.tenantId).select(Credential, 'c');
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('c.name > :after', { after: decodeCursor(after) });
    const rows = await qb
      .orderBy('c.name', 'ASC')
      .limit(limit + 1)
      .getMany();
    return connection(rows, limit, totalCount, (c) => c.name);
  }

  async byName(p: Principal, name: string): Promise<Credential | null> {
    requirePermission(p, Permission.CREDENTIAL_READ);
    if (!isCredentialName(name)) return null;
    return new TenantScope(this.ds.manager, p.tenantId)
      .select(Credential, 'c')
      .andWhere('c.name = :name', { name })
      .getOne();
  }

  /** A page of versions, newest first (never the value): a rotated credential gains one a rotation. */
  async versions(
    tenantId: string,
    credentialId: string,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<CredentialVersion>> {
    const limit = pageSize(first);
    const qb = new TenantScope(this.ds.manager, tenantId)
      .select(CredentialVersion, 'v')
      .andWhere('v.credentialId = :credentialId', { credentialId });
    const totalCount = await qb.clone().getCount();
    if (after) {
      const below = Number(decodeCursor(after));
      if (!Number.isSafeInteger(below)) throw badInput('after is not a cursor of this list', { argument: 'after' });
      qb.andWhere('v.version < :below', { below });
    }
    const rows = await qb
      .orderBy('v.version', 'DESC')
      .limit(limit + 1)
      .getMany();
    return connection(rows, limit, totalCount, (v) => v.version);
  }

  /** Its rotations, newest first. */
  rotations(tenantId: string, credentialId: string): Promise<CredentialRotation[]> {
    return new TenantScope(this.ds.manager, tenantId)
      .select(CredentialRotation, 'r')
      .andWhere('r.credentialId = :credentialId', { credentialId })
      .orderBy('r.id', 'DESC')
      .limit(ROTATIONS_SHOWN)
      .getMany();
  }

  /** The CURRENT version of each credential (null before its first). */
  async currentVersions(tenantId: string, credentialIds: readonly string[]): Promise<Array<CredentialVersion | null>> {
    const rows = await new TenantScope(this.ds.manager, tenantId)
      .select(CredentialVersion, 'v')
      .andWhere(`v.credentialId IN (:...credentialIds) AND v.state = 'CURRENT'`, { credentialIds })
      .getMany();
    return byKey(credentialIds, rows, (v) => v.credentialId);
  }

  async create(p: Principal, input: CreateCredential): Promise<Credential> {
    requirePermission(p, Permission.CREDENTIAL_WRITE);
    checkName(input.name);
    checkValue(input.value);
    const labels = validateLabels(input.labels);
    const service = checkText(input.service, 'service', 200);
    const description = checkText(input.description, 'description', 1000);
    const ownerId = input.ownerId ? requireId(input.ownerId, 'ownerId') : p.ownerId;
    const now = new Date();
    const credential: Credential = {
      ...{
        id: uuidv7(),
        tenantId: p.tenantId,
        name: input.name,
        service,
        description,
        ownerId,
        labels,
        createdAt: now,
        updatedAt: now,
      },
      ...{
        rotationPolicyId: null,
        rotator: null,
        rotatorSecretCiphertext: null,
        rotatorSecretKeyId: null,
        rotateEveryS: null,
        gracePeriodS: 3_600,
        nextRotationAt: null,
      },
    };
    try {
      return await committed(this.ds, this.changed, async (tx) => {
        const scope = new TenantScope(tx, p.tenantId);
        await scope.get(Owner, ownerId, 'owner');
        await scope.insert(Credential, [credential]);
        const version = await this.credentialVersions.insertVersion(
          tx,
          credential,
          1,
          input.value,
          input.expiresAt ?? null,
          p.ownerId,
        );
        await this.audit.append(tx, p.tenantId, {
          action: 'CREDENTIAL_CREATED',
          actorId: p.ownerId,
          targetType: 'CREDENTIAL',
          targetId: credential.id,
          data: {
            name: credential.name,
            service,
            ownerId,
            version: version.version,
            expiresAt: version.expiresAt?.toISOString() ?? null,
          },
        });
        return credential;
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict(`a credential named ${input.name} already exists`, { argument: 'name' });
      throw err;
    }
  }

  /** Changes what is known about a credential (never its value); fields left undefined stay. */
  async update(
    p: Principal,
    name: string,
    input: {
      service?: string | null;
      description?: string | null;
      labels?: Record<string, unknown> | null;
      ownerId?: string | null;
      rotationPolicyId?: string | null;
    },
  ): Promise<Credential> {
    requirePermission(p, Permission.CREDENTIAL_WRITE);
    checkName(name);
    const fields: Partial<Credential> = {};
    if (input.service !== undefined) fields.service = checkText(input.service, 'service', 200);
    if (input.description !== undefined) fields.description = checkText(input.description, 'description', 1000);
    if (input.labels !== undefined) fields.labels = validateLabels(input.labels);
    if (input.ownerId) fields.ownerId = requireId(input.ownerId, 'ownerId');
    if (input.rotationPolicyId) fields.rotationPolicyId = requireId(input.rotationPolicyId, 'rotationPolicyId');
    return committed(this.ds, this.changed, async (tx) => {
      const c = await lockedCredential(tx, p.tenantId, name);
      if (fields.ownerId) await new TenantScope(tx, p.tenantId).get(Owner, fields.ownerId, 'owner');
      if (fields.rotationPolicyId && fields.rotationPolicyId !== c.rotationPolicyId) {
        // The warnings still to come follow the new policy's offsets.
        const policy = await new TenantScope(tx, p.tenantId).get(
          RotationPolicy,
          fields.rotationPolicyId,
          'rotation policy',
        );
        const versions: Array<{ id: string; expires_at: Date }> = await tx.query(
          `SELECT id, expires_at FROM credential_versions WHERE credential_id = $1 AND state IN ('CURRENT', 'PREVIOUS') AND expires_at > now()`,
          [c.id],
        );
        await transitions.setNextNotify(
          tx,
          versions.map((v) => v.id),
          versions.map((v) => nextNotifyAt(v.expires_at, offsetsOf(policy.notifyBefore))),
        );
      }
      const changed = Object.fromEntries(
        Object.entries(fields).filter(([k, v]) => JSON.stringify(c[k as keyof Credential]) !== JSON.stringify(v)),
      );
      if (Object.keys(changed).length === 0) return c;
      await new TenantScope(tx, p.tenantId).update(Credential, c.id, { ...changed, updatedAt: new Date() });
      await this.audit.append(tx, p.tenantId, {
        action: 'CREDENTIAL_UPDATED',
        actorId: p.ownerId,
        targetType: 'CREDENTIAL',
        targetId: c.id,
        data: { name, ...changed },
      });
      return { ...c, ...changed };
    });
  }
}
