import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTimeScalar } from '../platform/graphql-types';
import { Token } from '../tokens/token.types';

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

@ObjectType({ description: 'The expiring-soon list: the whole list each time, and what changed since the last message.' })
export class ExpiringTokensUpdate {
  @Field({ description: 'True for the first message of a subscription.' })
  initial!: boolean;

  @Field(() => [Token], { description: 'Active tokens expiring within the window, soonest first (at most 500).' })
  tokens!: Token[];

  @Field(() => [ID])
  added!: string[];

  @Field(() => [ID])
  removed!: string[];

  @Field()
  at!: Date;
}
