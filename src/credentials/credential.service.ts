// Managed credentials: create, list, add versions, grant and withdraw the right to read values.
// Every change locks the credential's row first, so concurrent writers of one credential queue up
// and "exactly one CURRENT" (also a unique index) never sees a moment without or with two.
// Reading values is credential-reveal.ts; retiring versions and expiry warnings, credential.jobs.ts.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { type Principal, requirePermission } from '../iam/principal';
import { Permission } from '../iam/permissions';
import type { Tx } from '../platform/db';
import { isUniqueViolation } from '../platform/db';
import { badInput, conflict, forbidden, notFound } from '../platform/errors';
import { decodeCursor, requireId, uuidv7 } from '../platform/ids';
import { type Connection, connection, pageSize } from '../platform/pagination';
import { byKey, groupBy } from '../platform/batch';
import { assertBelowQuota, QUOTAS } from '../platform/quotas';
import { TenantScope } from '../platform/tenant-scope';
import { Owner } from '../owners/owner.entity';
import { validateLabels } from '../platform/labels';
import { DEFAULT_NOTIFY_BEFORE_S, firstNotifyAt, nextNotifyAt } from './credential.jobs';
import { RotationPolicy } from '../policies/rotation-policy.entity';

/** A policy's notifyBefore, or the defaults when it has none. */
const offsetsOf = (notifyBefore: number[]) => (notifyBefore.length ? notifyBefore : DEFAULT_NOTIFY_BEFORE_S);
import { Credential, CredentialGrant, CredentialRotation, CredentialVersion, CredentialVersionState } from './credential.entity';
import * as transitions from './credential-transitions';
import { ROTATIONS_SHOWN } from './credential.types';
import type { DataKeys } from './data-keys';
import { assertHoldersHoldPowerOf } from '../iam/owner-power';

export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_GRACE_S = 90 * 86_400;
const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export interface CreateCredential {
  name: string;
  service?: string | null;
  description?: string | null;
  ownerId?: string | null;
  labels?: Record<string, unknown> | null;
  value: string;
  expiresAt?: Date | null;
}

export interface NewVersion {
  name: string;
  value: string;
  expiresAt?: Date | null;
  /** Seconds the replaced version stays readable (PREVIOUS) before it is retired; 0 retires it at once. */
  gracePeriod: number;
}

/** The additional data a version's ciphertext is bound to: copied onto another row, it does not open. */
export const versionContext = (tenantId: string, credentialId: string, version: number) => `latchkey:credential:${tenantId}:${credentialId}:${version}`;

export function checkName(name: string, argument = 'name'): string {
  if (!NAME.test(name)) throw badInput(`a credential name is 1-128 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit`, { argument });
  return name;
}

function checkValue(value: string): void {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === 0) throw badInput('the value is empty', { argument: 'value' });
  if (bytes > MAX_VALUE_BYTES) throw badInput(`the value is ${bytes} bytes; at most ${MAX_VALUE_BYTES} (64 KiB)`, { argument: 'value' });
}

function checkText(value: string | null | undefined, argument: string, max: number): string | null {
  if (value === null || value === undefined) return null;
  if (value.length > max) throw badInput(`${argument} is at most ${max} characters`, { argument });
  return value;
}

export class CredentialService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly keys: DataKeys,
    /** Runs after every committed change (the reveal path forgets what it remembered). */
    private readonly changed: () => void = () => undefined,
  ) {}

  /** Tells the reveal path that something changed outside this service's own methods (a rotation finished). */
  notifyChanged(): void {
    this.changed();
  }

  /** Runs `work` in a transaction, then tells the reveal path. */
  private async change<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const result = await this.ds.transaction(work);
    this.changed();
    return result;
  }

  async list(p: Principal, first: number | null | undefined, after: string | null | undefined): Promise<Connection<Credential>> {
    requirePermission(p, Permission.CREDENTIAL_READ);
    const limit = pageSize(first);
    const qb = new TenantScope(this.ds.manager, p.tenantId).select(Credential, 'c');
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('c.name > :after', { after: decodeCursor(after) });
    const rows = await qb.orderBy('c.name', 'ASC').limit(limit + 1).getMany();
    return connection(rows, limit, totalCount, (c) => c.name);
  }

  async byName(p: Principal, name: string): Promise<Credential | null> {
    requirePermission(p, Permission.CREDENTIAL_READ);
    if (!NAME.test(name)) return null;
    return new TenantScope(this.ds.manager, p.tenantId).select(Credential, 'c').andWhere('c.name = :name', { name }).getOne();
  }

  /** A page of versions, newest first (never the value): a rotated credential gains one a rotation. */
  async versions(tenantId: string, credentialId: string, first: number | null | undefined, after: string | null | undefined): Promise<Connection<CredentialVersion>> {
    const limit = pageSize(first);
    const qb = new TenantScope(this.ds.manager, tenantId).select(CredentialVersion, 'v').andWhere('v.credentialId = :credentialId', { credentialId });
    const totalCount = await qb.clone().getCount();
    if (after) {
      const below = Number(decodeCursor(after));
      if (!Number.isSafeInteger(below)) throw badInput('after is not a cursor of this list', { argument: 'after' });
      qb.andWhere('v.version < :below', { below });
    }
    const rows = await qb.orderBy('v.version', 'DESC').limit(limit + 1).getMany();
    return connection(rows, limit, totalCount, (v) => v.version);
  }

  /** Its rotations, newest first. */
  rotations(tenantId: string, credentialId: string): Promise<CredentialRotation[]> {
    return new TenantScope(this.ds.manager, tenantId).select(CredentialRotation, 'r').andWhere('r.credentialId = :credentialId', { credentialId }).orderBy('r.id', 'DESC').limit(ROTATIONS_SHOWN).getMany();
  }

  /** The readers of each credential (at most QUOTAS.readersPerCredential), in the order they were granted. */
  async grantsByCredentialIds(tenantId: string, credentialIds: readonly string[]): Promise<CredentialGrant[][]> {
    const rows = await new TenantScope(this.ds.manager, tenantId).select(CredentialGrant, 'g').andWhere('g.credentialId IN (:...credentialIds)', { credentialIds }).orderBy('g.createdAt', 'ASC').getMany();
    return groupBy(credentialIds, rows, (g) => g.credentialId);
  }

  /** The CURRENT version of each credential (null before its first). */
  async currentVersions(tenantId: string, credentialIds: readonly string[]): Promise<Array<CredentialVersion | null>> {
    const rows = await new TenantScope(this.ds.manager, tenantId).select(CredentialVersion, 'v').andWhere(`v.credentialId IN (:...credentialIds) AND v.state = 'CURRENT'`, { credentialIds }).getMany();
    return byKey(credentialIds, rows, (v) => v.credentialId);
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
   * A version's value, opened in memory for Latchkey's own use (a rotator, a check of where it
   * points), never handed to a caller: reveals are credential-reveal.ts. undefined when there is none.
   */
  async openValue(c: Pick<Credential, 'tenantId' | 'id'>, where: { state: 'CURRENT' } | { state: 'PENDING'; rotationId: string } | { version: number }): Promise<string | undefined> {
    const [condition, param] = 'version' in where ? ['version = $3', where.version] : where.state === 'PENDING' ? [`state = 'PENDING' AND rotation_id = $3`, where.rotationId] : [`state = 'CURRENT'`, null];
    const [v] = await this.ds.query(
      `SELECT version, ciphertext, data_key_id FROM credential_versions WHERE tenant_id = $1 AND credential_id = $2 AND ${condition}`,
      param === null ? [c.tenantId, c.id] : [c.tenantId, c.id, param],
    );
    if (!v?.ciphertext) return undefined;
    return this.keys.open(c.tenantId, v.data_key_id, v.ciphertext, versionContext(c.tenantId, c.id, v.version));
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
      ...{ id: uuidv7(), tenantId: p.tenantId, name: input.name, service, description, ownerId, labels, createdAt: now, updatedAt: now },
      ...{ rotationPolicyId: null, rotator: null, rotatorSecretCiphertext: null, rotatorSecretKeyId: null, rotateEveryS: null, gracePeriodS: 3_600, nextRotationAt: null },
    };
    try {
      return await this.change(async (tx) => {
        const scope = new TenantScope(tx, p.tenantId);
        await scope.get(Owner, ownerId, 'owner');
        await scope.insert(Credential, [credential]);
        const version = await this.insertVersion(tx, credential, 1, input.value, input.expiresAt ?? null, p.ownerId);
        await this.audit.append(tx, p.tenantId, {
          action: 'CREDENTIAL_CREATED',
          actorId: p.ownerId,
          targetType: 'CREDENTIAL',
          targetId: credential.id,
          data: { name: credential.name, service, ownerId, version: version.version, expiresAt: version.expiresAt?.toISOString() ?? null },
        });
        return credential;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`a credential named ${input.name} already exists`, { argument: 'name' });
      throw err;
    }
  }

  /** Changes what is known about a credential (never its value); fields left undefined stay. */
  async update(
    p: Principal,
    name: string,
    input: { service?: string | null; description?: string | null; labels?: Record<string, unknown> | null; ownerId?: string | null; rotationPolicyId?: string | null },
  ): Promise<Credential> {
    requirePermission(p, Permission.CREDENTIAL_WRITE);
    checkName(name);
    const fields: Partial<Credential> = {};
    if (input.service !== undefined) fields.service = checkText(input.service, 'service', 200);
    if (input.description !== undefined) fields.description = checkText(input.description, 'description', 1000);
    if (input.labels !== undefined) fields.labels = validateLabels(input.labels);
    if (input.ownerId) fields.ownerId = requireId(input.ownerId, 'ownerId');
    if (input.rotationPolicyId) fields.rotationPolicyId = requireId(input.rotationPolicyId, 'rotationPolicyId');
    return this.change(async (tx) => {
      const c = await this.locked(tx, p.tenantId, name);
      if (fields.ownerId) await new TenantScope(tx, p.tenantId).get(Owner, fields.ownerId, 'owner');
      if (fields.rotationPolicyId && fields.rotationPolicyId !== c.rotationPolicyId) {
        // The warnings still to come follow the new policy's offsets.
        const policy = await new TenantScope(tx, p.tenantId).get(RotationPolicy, fields.rotationPolicyId, 'rotation policy');
        const versions: Array<{ id: string; expires_at: Date }> = await tx.query(
          `SELECT id, expires_at FROM credential_versions WHERE credential_id = $1 AND state IN ('CURRENT', 'PREVIOUS') AND expires_at > now()`,
          [c.id],
        );
        await transitions.setNextNotify(tx, versions.map((v) => v.id), versions.map((v) => nextNotifyAt(v.expires_at, offsetsOf(policy.notifyBefore))));
      }
      const changed = Object.fromEntries(Object.entries(fields).filter(([k, v]) => JSON.stringify(c[k as keyof Credential]) !== JSON.stringify(v)));
      if (Object.keys(changed).length === 0) return c;
      await new TenantScope(tx, p.tenantId).update(Credential, c.id, { ...changed, updatedAt: new Date() });
      await this.audit.append(tx, p.tenantId, { action: 'CREDENTIAL_UPDATED', actorId: p.ownerId, targetType: 'CREDENTIAL', targetId: c.id, data: { name, ...changed } });
      return { ...c, ...changed };
    });
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
    if (input.gracePeriod < 0 || input.gracePeriod > MAX_GRACE_S) throw badInput(`gracePeriod is at most P90D`, { argument: 'gracePeriod' });
    return this.change(async (tx) => {
      const credential = await this.locked(tx, p.tenantId, input.name);
      const next = await this.nextVersion(tx, credential.id);
      return this.replaceCurrent(tx, credential, input.gracePeriod, p.ownerId, () => this.insertVersion(tx, credential, next, input.value, input.expiresAt ?? null, p.ownerId));
    });
  }

  async nextVersion(tx: Tx, credentialId: string): Promise<number> {
    const rows = await tx.query(`SELECT max(version) AS v FROM credential_versions WHERE credential_id = $1`, [credentialId]);
    return Number(rows[0].v) + 1;
  }

  /**
   * The one way a version becomes CURRENT (by hand, or at a rotation's finish), the credential's
   * row locked by the caller: what was PREVIOUS is retired, the CURRENT one becomes PREVIOUS for
   * `graceS` (retired at once when 0), then `makeCurrent` puts the new one in place. Audited.
   */
  async replaceCurrent(tx: Tx, credential: Credential, graceS: number, actorId: string | null, makeCurrent: () => Promise<CredentialVersion>, extra: Record<string, unknown> = {}): Promise<CredentialVersion> {
    const graceEndsAt = new Date(Date.now() + graceS * 1000);
    const retired = await transitions.retire(tx, credential.id, graceS === 0 ? 'PREVIOUS_AND_CURRENT' : 'PREVIOUS');
    const replaced = graceS === 0 ? null : await transitions.demoteCurrent(tx, credential.id, graceEndsAt);
    const version = await makeCurrent();
    await transitions.touch(tx, credential.id);
    await this.audit.append(tx, credential.tenantId, [
      ...retired.map((v) => ({ action: 'CREDENTIAL_VERSION_RETIRED' as const, actorId, targetType: 'CREDENTIAL', targetId: credential.id, data: { name: credential.name, version: v } })),
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

  /**
   * Lets an owner read the credential's values. Nobody gives what it does not hold: granting on a
   * credential the caller cannot read itself (oneself included) takes CREDENTIAL_ADMIN, or a
   * writer would grant itself, or an owner whose token it holds, and read everything.
   */
  async grant(p: Principal, name: string, ownerId: string): Promise<CredentialGrant> {
    requirePermission(p, Permission.CREDENTIAL_WRITE);
    requireId(ownerId, 'ownerId');
    return this.change(async (tx) => {
      const credential = await this.locked(tx, p.tenantId, checkName(name));
      await this.assertMayPassOn(tx, p, credential, 'grant others on');
      await new TenantScope(tx, p.tenantId).get(Owner, ownerId, 'owner');
      await assertBelowQuota(tx, `readers of credential ${credential.name}`, QUOTAS.readersPerCredential, 'credential_grants WHERE credential_id = $1 AND owner_id <> $2', [credential.id, ownerId]);
      const grant: CredentialGrant = { tenantId: p.tenantId, credentialId: credential.id, ownerId, grantedBy: p.ownerId, createdAt: new Date() };
      const inserted = await tx.query(
        `INSERT INTO credential_grants (tenant_id, credential_id, owner_id, granted_by, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING owner_id`,
        [grant.tenantId, grant.credentialId, grant.ownerId, grant.grantedBy, grant.createdAt],
      );
      if (inserted.length === 0) return (await new TenantScope(tx, p.tenantId).select(CredentialGrant, 'g').andWhere('g.credentialId = :c AND g.ownerId = :o', { c: credential.id, o: ownerId }).getOne())!;
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
    return this.change(async (tx) => {
      const credential = await this.locked(tx, p.tenantId, checkName(name));
      const [, count] = await tx.query(`DELETE FROM credential_grants WHERE tenant_id = $1 AND credential_id = $2 AND owner_id = $3`, [p.tenantId, credential.id, ownerId]);
      if (!count) return false;
      await this.audit.append(tx, p.tenantId, { action: 'CREDENTIAL_ACCESS_REVOKED', actorId: p.ownerId, targetType: 'CREDENTIAL', targetId: credential.id, data: { name: credential.name, ownerId } });
      return true;
    });
  }

  /** Whether the owner is granted to read the credential. */
  async isGranted(tx: Tx, tenantId: string, credentialId: string, ownerId: string): Promise<boolean> {
    const [row] = await tx.query(`SELECT 1 FROM credential_grants WHERE tenant_id = $1 AND credential_id = $2 AND owner_id = $3`, [tenantId, credentialId, ownerId]);
    return !!row;
  }

  /**
   * Writing is not reading: what would send a credential's value somewhere (a grant, a rotator)
   * is for its readers, or for CREDENTIAL_ADMIN. `verb` says what was refused.
   */
  async assertMayPassOn(tx: Tx, p: Principal, credential: Credential, verb: string): Promise<void> {
    if (p.permissions.has(Permission.CREDENTIAL_ADMIN) || (await this.isGranted(tx, p.tenantId, credential.id, p.ownerId))) return;
    throw forbidden(`you may not ${verb} credential ${credential.name}: you are not granted to read it, and CREDENTIAL_ADMIN is needed`, {
      argument: 'name',
      missingPermissions: [Permission.CREDENTIAL_ADMIN],
    });
  }

  async locked(tx: Tx, tenantId: string, name: string): Promise<Credential> {
    const credential = await new TenantScope(tx, tenantId).select(Credential, 'c').andWhere('c.name = :name', { name }).setLock('pessimistic_write').getOne();
    if (!credential) throw notFound('credential', name);
    return credential;
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
