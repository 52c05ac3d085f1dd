import {
  Arg,
  Authorized,
  Ctx,
  Extensions,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { QUOTAS } from '../platform/quotas';
import { shownRotator } from './credential.entity';
import type { CredentialContext } from './credential.loaders';
import type { AuditEvent } from '../audit/audit-event.entity';
import type { AuditService } from '../audit/audit.service';
import { AuditEventConnection } from '../audit/audit.types';
import { Permission } from '../iam/permissions';
import type { Connection } from '../platform/pagination';
import { Credential, CredentialGrant, CredentialRotation, CredentialVersion } from './credential.entity';
import type { CredentialReveals } from './credential-reveal';
import type { CredentialService } from './credential.service';
import type { CredentialGrants } from './credential-grants';
import type { CredentialVersions } from './credential-versions';
import {
  AddCredentialVersionInput,
  CreateCredentialInput,
  CredentialConnection,
  CredentialRotatorSet,
  CredentialVersionConnection,
  RevealedCredential,
  ROTATIONS_SHOWN,
  SetCredentialRotatorInput,
  UpdateCredentialInput,
} from './credential.types';
import type { CredentialRotations } from './credential-rotations';
import type { RotatorConfiguration } from './rotator-configuration';
import { JSONObjectScalar } from '../platform/graphql-types';

/** What the credential resolvers call, by the names the application gives them. */
export interface CredentialDoors {
  credentials: CredentialService;
  credentialVersions: CredentialVersions;
  credentialGrants: CredentialGrants;
  reveals: CredentialReveals;
  audit: AuditService;
  rotations: CredentialRotations;
  rotatorConfiguration: RotatorConfiguration;
}

@Resolver(() => Credential)
export class CredentialResolver {
  constructor(private readonly s: CredentialDoors) {}

  @FieldResolver(() => JSONObjectScalar, {
    nullable: true,
    description: 'Who rotates it (kind, url or connection and roles); null: by hand only.',
  })
  rotator(@Root() c: Credential, @Ctx() ctx: CredentialContext): Record<string, unknown> | null {
    // Whole only for who may point it anywhere (CREDENTIAL_ADMIN); a writer may not change a rotator it cannot read.
    return c.rotator && shownRotator(c.rotator, ctx.principal.permissions.has(Permission.CREDENTIAL_ADMIN));
  }

  @FieldResolver(() => [CredentialRotation], {
    description: `Its rotations, newest first (at most ${ROTATIONS_SHOWN}).`,
  })
  @Extensions({ maxItems: ROTATIONS_SHOWN })
  rotations(@Root() c: Credential): Promise<CredentialRotation[]> {
    return this.s.credentials.rotations(c.tenantId, c.id);
  }

  @Authorized(Permission.CREDENTIAL_WRITE)
  @Mutation(() => CredentialRotatorSet, {
    description:
      'Sets who rotates the credential (a webhook you run, or a built-in Postgres or Redis rotator) and how often. A built-in rotator takes a grant on its connection.',
  })
  setCredentialRotator(
    @Arg('name') name: string,
    @Arg('input', () => SetCredentialRotatorInput) input: SetCredentialRotatorInput,
    @Ctx() ctx: CredentialContext,
  ): Promise<CredentialRotatorSet> {
    return this.s.rotatorConfiguration.configure(ctx.principal, name, input);
  }

  @Authorized(Permission.CREDENTIAL_WRITE)
  @Mutation(() => CredentialRotation, {
    description:
      'Starts a rotation now; its steps run in the workers. Follow it with credential { rotations } or credentialChanged.',
  })
  rotateCredential(@Arg('name') name: string, @Ctx() ctx: CredentialContext): Promise<CredentialRotation> {
    return this.s.rotations.rotateNow(ctx.principal, name);
  }

  @Authorized(Permission.CREDENTIAL_READ)
  @Query(() => CredentialConnection, { description: 'Managed credentials, by name. Never their values.' })
  credentials(
    @Ctx() ctx: CredentialContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<Connection<Credential>> {
    return this.s.credentials.list(ctx.principal, first, after);
  }

  @Authorized(Permission.CREDENTIAL_READ)
  @Query(() => Credential, { nullable: true })
  credential(@Arg('name') name: string, @Ctx() ctx: CredentialContext): Promise<Credential | null> {
    return this.s.credentials.byName(ctx.principal, name);
  }

  @FieldResolver(() => CredentialVersion, {
    nullable: true,
    description: 'The version handed out now (null only before the first one exists).',
  })
  currentVersion(@Root() c: Credential, @Ctx() ctx: CredentialContext): Promise<CredentialVersion | null> {
    return ctx.loaders.currentCredentialVersion.load(c.id);
  }

  @FieldResolver(() => CredentialVersionConnection, { description: 'Newest first, a page at a time.' })
  versions(
    @Root() c: Credential,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<Connection<CredentialVersion>> {
    return this.s.credentials.versions(c.tenantId, c.id, first, after);
  }

  @FieldResolver(() => AuditEventConnection, {
    description: 'Its audit events, oldest first: versions, grants, reveals (who, which version, from where).',
  })
  history(
    @Root() c: Credential,
    @Ctx() ctx: CredentialContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<Connection<AuditEvent>> {
    return this.s.audit.list(ctx.principal, { targetId: c.id }, first, after);
  }

  @FieldResolver(() => [CredentialGrant], {
    description: `Owners allowed to read the values (at most ${QUOTAS.readersPerCredential}).`,
  })
  @Extensions({ maxItems: QUOTAS.readersPerCredential })
  readers(@Root() c: Credential, @Ctx() ctx: CredentialContext): Promise<CredentialGrant[]> {
    return ctx.loaders.credentialReaders.load(c.id);
  }

  @Authorized(Permission.CREDENTIAL_WRITE)
  @Mutation(() => Credential)
  createCredential(
    @Arg('input', () => CreateCredentialInput) input: CreateCredentialInput,
    @Ctx() ctx: CredentialContext,
  ): Promise<Credential> {
    return this.s.credentials.create(ctx.principal, input);
  }

  @Authorized(Permission.CREDENTIAL_WRITE)
  @Mutation(() => Credential)
  updateCredential(
    @Arg('name') name: string,
    @Arg('input', () => UpdateCredentialInput) input: UpdateCredentialInput,
    @Ctx() ctx: CredentialContext,
  ): Promise<Credential> {
    return this.s.credentials.update(ctx.principal, name, input);
  }

  @Authorized(Permission.CREDENTIAL_WRITE)
  @Mutation(() => CredentialVersion)
  addCredentialVersion(
    @Arg('input', () => AddCredentialVersionInput) input: AddCredentialVersionInput,
    @Ctx() ctx: CredentialContext,
  ): Promise<CredentialVersion> {
    return this.s.credentialVersions.addVersion(ctx.principal, input);
  }

  @Authorized(Permission.CREDENTIAL_WRITE)
  @Mutation(() => CredentialGrant, {
    description: 'Lets an owner read the values. Granting yourself is allowed, and audited as such.',
  })
  grantCredential(
    @Arg('name') name: string,
    @Arg('ownerId', () => ID) ownerId: string,
    @Ctx() ctx: CredentialContext,
  ): Promise<CredentialGrant> {
    return this.s.credentialGrants.grant(ctx.principal, name, ownerId);
  }

  @Authorized(Permission.CREDENTIAL_WRITE)
  @Mutation(() => Boolean, { description: "Withdraws an owner's right to read the values; false when it had none." })
  revokeCredentialAccess(
    @Arg('name') name: string,
    @Arg('ownerId', () => ID) ownerId: string,
    @Ctx() ctx: CredentialContext,
  ): Promise<boolean> {
    return this.s.credentialGrants.revokeAccess(ctx.principal, name, ownerId);
  }

  @Mutation(() => RevealedCredential, {
    description:
      "A credential's value, for an owner granted to read it (no permission is enough alone). Audited before it is returned.",
  })
  async revealCredential(
    @Arg('name') name: string,
    @Ctx() ctx: CredentialContext,
    @Arg('version', () => Int, {
      nullable: true,
      description: 'A PREVIOUS version, readable until its grace ends; CURRENT when left out.',
    })
    version?: number,
  ): Promise<RevealedCredential> {
    const p = ctx.principal;
    const r = await this.s.reveals.reveal({
      tenantId: p.tenantId,
      ownerId: p.ownerId,
      tokenId: p.tokenId,
      name,
      version,
      clientIp: ctx.clientIp ?? null,
      door: 'graphql',
    });
    if (!r.modified) throw new Error('unreachable: a reveal without If-None-Match always returns the value');
    return { name: r.name, version: r.version, value: r.value, expiresAt: r.expiresAt };
  }
}
