// Setting a credential's rotator (setCredentialRotator). A built-in rotator's privileged connection
// is a credential the caller must be granted on: using it is reading it, so a writer who could not
// read it could otherwise reset any role's password through it and read the new one. Every address
// known here (the connection's value, the rotated value, a webhook rotator's URL) is checked against
// the address rules now; every connection checks again when it is made.
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service';
import { type Principal, requirePermission } from '../iam/principal';
import { Permission } from '../iam/permissions';
import { badInput, forbidden } from '../platform/errors';
import type { SecretBox } from '../platform/secret-box';
import { TenantScope } from '../platform/tenant-scope';
import { OutboundRefused } from '../outbound/address-rules';
import { checkTargetUrl } from '../outbound/check-target';
import { parseRedisUrl, serverOf } from '../outbound/connection-urls';
import type { Outbound } from '../outbound/outbound';
import { newWebhookSecret } from '../outbound/signature';
import { Credential, type RotatorConfig, shownRotator } from './credential.entity';
import { checkGrace, checkName, lockedCredential } from './credential-rules';
import type { CredentialGrants } from './credential-grants';
import type { CredentialVersions } from './credential-versions';
import * as transitions from './credential-transitions';

export interface RotatorInput {
  kind: 'WEBHOOK' | 'POSTGRES' | 'REDIS';
  url?: string | null;
  /** Built-in rotators: the managed credential holding the privileged connection URL. */
  connection?: string | null;
  /** POSTGRES: the two login roles used in turn. */
  roles?: string[] | null;
  /** Seconds between scheduled rotations; none: only when asked. */
  rotateEvery?: number | null;
  /** Seconds the replaced value stays readable (and, for built-in rotators, accepted). */
  gracePeriod: number;
}

const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;

export class RotatorConfiguration {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly grants: CredentialGrants,
    private readonly versions: CredentialVersions,
    private readonly box: SecretBox,
    private readonly outbound: Outbound,
  ) {}

  /** Sets who rotates the credential and how often. A WEBHOOK rotator's signing secret is returned once. */
  async configure(
    p: Principal,
    name: string,
    input: RotatorInput,
  ): Promise<{ credential: Credential; signingSecret: string | null }> {
    requirePermission(p, Permission.CREDENTIAL_WRITE);
    checkName(name);
    const rotator = await this.rotatorConfig(input);
    checkGrace(input.gracePeriod);
    if (rotator.kind !== 'WEBHOOK' && input.gracePeriod === 0) {
      throw badInput(
        `a ${rotator.kind} rotator needs a grace of at least PT1S: it is when the replaced value is removed from ${rotator.kind === 'POSTGRES' ? 'Postgres' : 'Redis'}`,
        { argument: 'gracePeriod' },
      );
    }
    if (input.rotateEvery != null && input.gracePeriod >= input.rotateEvery) {
      throw badInput(
        'gracePeriod must be shorter than rotateEvery: a value would still be in its grace when the next rotation starts',
        { argument: 'gracePeriod' },
      );
    }
    if (rotator.kind !== 'WEBHOOK') await this.checkBuiltIn(p, name, rotator);
    const signingSecret = rotator.kind === 'WEBHOOK' ? newWebhookSecret() : null;
    const credential = await this.ds.transaction(async (tx) => {
      const c = await lockedCredential(tx, p.tenantId, name);
      // A rotator receives the next values: pointing one is for the credential's readers (or CREDENTIAL_ADMIN).
      await this.grants.assertMayPassOn(tx, p, c, 'set the rotator of');
      const sealed = signingSecret ? this.box.seal(signingSecret, `rotator:${c.id}`) : null;
      const nextRotationAt = input.rotateEvery ? new Date(Date.now() + input.rotateEvery * 1000) : null;
      await transitions.setRotator(tx, c.id, {
        rotator,
        sealedSecret: sealed,
        rotateEveryS: input.rotateEvery ?? null,
        gracePeriodS: input.gracePeriod,
        nextRotationAt,
      });
      await this.audit.append(tx, p.tenantId, {
        action: 'CREDENTIAL_ROTATOR_SET',
        actorId: p.ownerId,
        targetType: 'CREDENTIAL',
        targetId: c.id,
        data: {
          name,
          rotator: shownRotator(rotator, false),
          rotateEverySeconds: input.rotateEvery ?? null,
          gracePeriodSeconds: input.gracePeriod,
        },
      });
      return {
        ...c,
        rotator,
        rotateEveryS: input.rotateEvery ?? null,
        gracePeriodS: input.gracePeriod,
        nextRotationAt,
      };
    });
    return { credential, signingSecret };
  }

  private async rotatorConfig(input: RotatorInput): Promise<RotatorConfig> {
    switch (input.kind) {
      case 'WEBHOOK':
        if (!input.url) throw badInput('a WEBHOOK rotator needs a url', { argument: 'url' });
        return { kind: 'WEBHOOK', url: await checkTargetUrl(this.outbound.http, input.url, 'rotator URL') };
      case 'POSTGRES':
      case 'REDIS': {
        if (!input.connection)
          throw badInput(`a ${input.kind} rotator needs the name of the credential holding its privileged connection`, {
            argument: 'connection',
          });
        checkName(input.connection, 'connection');
        if (input.kind === 'REDIS') return { kind: 'REDIS', connection: input.connection };
        const roles = input.roles ?? [];
        if (roles.length !== 2 || roles[0] === roles[1] || !roles.every((r) => ROLE.test(r))) {
          throw badInput('a POSTGRES rotator alternates two distinct login roles (lower-case identifiers)', {
            argument: 'roles',
          });
        }
        return { kind: 'POSTGRES', connection: input.connection, roles: [roles[0]!, roles[1]!] };
      }
      default:
        throw badInput(`unknown rotator kind ${JSON.stringify(String(input.kind).slice(0, 40))}`, { argument: 'kind' });
    }
  }

  /**
   * A built-in rotator: the caller is granted on the connection (a missing one is refused alike),
   * and both the connection's value and the rotated value pass the address rules.
   */
  private async checkBuiltIn(
    p: Principal,
    name: string,
    rotator: Exclude<RotatorConfig, { kind: 'WEBHOOK' }>,
  ): Promise<void> {
    if (rotator.connection === name)
      throw badInput('a credential cannot be its own privileged connection', { argument: 'connection' });
    if (!(await this.grants.grantedNames(p.tenantId, p.ownerId)).has(rotator.connection)) {
      throw forbidden(
        `a privileged connection must be a credential you are granted to read: you are not granted on ${rotator.connection}, or it does not exist`,
        { argument: 'connection' },
      );
    }
    const scope = new TenantScope(this.ds.manager, p.tenantId);
    const [conn] = await scope
      .select(Credential, 'c')
      .andWhere('c.name = :name', { name: rotator.connection })
      .getMany();
    const [rotated] = await scope.select(Credential, 'c').andWhere('c.name = :name', { name }).getMany();
    if (!conn || !rotated) return; // gone meanwhile: the transaction says so
    const connValue = await this.checkValue(
      rotator.kind,
      conn,
      `the privileged connection ${rotator.connection}`,
      'connection',
    );
    const value = await this.checkValue(rotator.kind, rotated, `the value of ${name}`, 'name');
    if (
      connValue !== undefined &&
      value !== undefined &&
      serverOf(rotator.kind, connValue) !== serverOf(rotator.kind, value)
    ) {
      throw badInput(
        `the value of ${name} points at another server than its privileged connection ${rotator.connection}: a built-in rotator sets passwords where its connection is`,
        { argument: 'connection' },
      );
    }
    if (rotator.kind === 'REDIS' && value !== undefined && !parseRedisUrl(value).username) {
      throw badInput(
        `the value of ${name} names no Redis user: the REDIS rotator sets the passwords of the ACL user it names`,
        { argument: 'name' },
      );
    }
  }

  /** The credential's CURRENT value, refused (naming `what`, never the value) when the rules refuse it. */
  private async checkValue(
    kind: 'POSTGRES' | 'REDIS',
    c: Credential,
    what: string,
    argument: string,
  ): Promise<string | undefined> {
    const value = await this.versions.openValue(c, { state: 'CURRENT' });
    if (value === undefined) throw badInput(`${what} has no current value`, { argument });
    try {
      await this.outbound.databases.check(kind, value);
    } catch (err) {
      // A name that does not resolve now, or a slow resolver, is checked again at every connection.
      if (err instanceof OutboundRefused) throw badInput(`${what} is refused: ${err.message}`, { argument });
    }
    return value;
  }
}
