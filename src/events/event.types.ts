import { Extensions, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTimeScalar } from '../platform/graphql-types';
import { Token } from '../tokens/token.types';

/** Most tokens, and credentials, an expiring-soon message lists. */
export const EXPIRING_LIMIT = 500;

export enum TokenLifecycleKind {
  ISSUED = 'ISSUED',
  EXPIRING = 'EXPIRING',
  ROTATED = 'ROTATED',
  EXPIRED = 'EXPIRED',
  REVOKED = 'REVOKED',
}
registerEnumType(TokenLifecycleKind, { name: 'TokenLifecycleKind' });

/** The audit actions each lifecycle kind comes from. */
export const LIFECYCLE_ACTIONS: Record<string, TokenLifecycleKind> = {
  TOKEN_ISSUED: TokenLifecycleKind.ISSUED,
  TOKEN_EXPIRING: TokenLifecycleKind.EXPIRING,
  TOKEN_ROTATED: TokenLifecycleKind.ROTATED,
  TOKEN_EXPIRED: TokenLifecycleKind.EXPIRED,
  TOKEN_REVOKED: TokenLifecycleKind.REVOKED,
};

@ObjectType()
export class TokenLifecycleEvent {
  @Field(() => TokenLifecycleKind)
  kind!: TokenLifecycleKind;

  @Field()
  at!: Date;

  @Field(() => Token, { description: 'The token as it is when the event is delivered.' })
  token!: Token;

  @Field(() => DateTimeScalar, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => Int, { description: 'The audit seq the event came from: resume with tokenLifecycle(afterSeq:).' })
  seq!: number;
}

@ObjectType({ description: "A managed credential's version whose vendor expiry falls within the window." })
export class ExpiringCredential {
  @Field()
  name!: string;

  @Field(() => Int)
  version!: number;

  @Field({ description: 'CURRENT or PREVIOUS.' })
  state!: string;

  @Field(() => DateTimeScalar)
  expiresAt!: Date;
}

@ObjectType({
  description: 'The expiring-soon list: the whole list each time, and what changed since the last message.',
})
export class ExpiringTokensUpdate {
  @Field({ description: 'True for the first message of a subscription.' })
  initial!: boolean;

  @Field(() => [Token], { description: 'Active tokens expiring within the window, soonest first (at most 500).' })
  @Extensions({ maxItems: EXPIRING_LIMIT })
  tokens!: Token[];

  @Extensions({ maxItems: EXPIRING_LIMIT })
  @Field(() => [ExpiringCredential], {
    description:
      'Managed credentials whose vendor expiry falls within the window, soonest first (at most 500), for principals with CREDENTIAL_READ; otherwise empty.',
  })
  credentials!: ExpiringCredential[];

  @Field(() => [ID])
  added!: string[];

  @Field(() => [ID])
  removed!: string[];

  @Field()
  at!: Date;
}

export enum CredentialChangeKind {
  VERSION_ADDED = 'VERSION_ADDED',
  VERSION_RETIRED = 'VERSION_RETIRED',
  EXPIRING = 'EXPIRING',
  EXPIRED = 'EXPIRED',
  ROTATION_FAILED = 'ROTATION_FAILED',
}
registerEnumType(CredentialChangeKind, {
  name: 'CredentialChangeKind',
  valuesConfig: { VERSION_ADDED: { description: 'A new CURRENT version: fetch the value again (its ETag changed).' } },
});

/** The audit actions each credential change comes from. */
export const CREDENTIAL_CHANGE_ACTIONS: Record<string, CredentialChangeKind> = {
  CREDENTIAL_VERSION_ADDED: CredentialChangeKind.VERSION_ADDED,
  CREDENTIAL_VERSION_RETIRED: CredentialChangeKind.VERSION_RETIRED,
  CREDENTIAL_EXPIRING: CredentialChangeKind.EXPIRING,
  CREDENTIAL_EXPIRED: CredentialChangeKind.EXPIRED,
  CREDENTIAL_ROTATION_FAILED: CredentialChangeKind.ROTATION_FAILED,
};

@ObjectType({ description: 'Something a consumer of a credential must act on. Never the value.' })
export class CredentialChange {
  @Field(() => CredentialChangeKind)
  kind!: CredentialChangeKind;

  @Field()
  name!: string;

  @Field(() => Int, {
    nullable: true,
    description:
      'The version added, retired, expiring or expired (for a failed rotation, the PENDING one it made, if any).',
  })
  version!: number | null;

  @Field()
  at!: Date;

  @Field(() => Int, { description: 'The audit seq it came from: resume with credentialChanged(afterSeq:).' })
  seq!: number;
}
