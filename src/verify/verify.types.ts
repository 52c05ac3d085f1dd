import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTimeScalar } from '../platform/graphql-types';

export enum VerifyFailure {
  MALFORMED = 'MALFORMED',
  NOT_FOUND = 'NOT_FOUND',
  EXPIRED = 'EXPIRED',
  REVOKED = 'REVOKED',
  SUSPENDED = 'SUSPENDED',
  INSUFFICIENT_SCOPE = 'INSUFFICIENT_SCOPE',
  RATE_LIMITED = 'RATE_LIMITED',
  IP_NOT_ALLOWED = 'IP_NOT_ALLOWED',
}
registerEnumType(VerifyFailure, {
  name: 'VerifyFailure',
  valuesConfig: { IP_NOT_ALLOWED: { description: "The client address is outside the token's allowed networks." } },
});

@ObjectType()
export class VerifyResult {
  @Field()
  valid!: boolean;

  @Field(() => VerifyFailure, { nullable: true })
  failure!: VerifyFailure | null;

  @Field(() => ID, { nullable: true })
  tokenId!: string | null;

  @Field(() => ID, { nullable: true })
  ownerId!: string | null;

  @Field(() => ID, { nullable: true })
  tenantId!: string | null;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => DateTimeScalar, { nullable: true })
  expiresAt!: Date | null;

  @Field({ description: 'True when the presented secret is PREVIOUS: a successor exists and should be picked up.' })
  rotationPending!: boolean;

  @Field(() => Int, { nullable: true, description: 'With RATE_LIMITED: seconds until the window resets.' })
  retryAfter?: number | null;
}
