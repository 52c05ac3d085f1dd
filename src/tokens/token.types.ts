import { ArrayMaxSize, IsOptional, Length, MaxLength } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTimeScalar, ConnectionType, JSONObjectScalar, SafeIntScalar } from '../platform/graphql-types';
import type { Owner } from '../owners/owner.entity';
import type { Scope } from '../scopes/scope.entity';
import { RateLimit, RateLimitInput } from '../policies/rate-limit';
import type { TokenKindValue, TokenStatusValue } from './token.entity';
import type { SecretStateValue } from './token-secret.entity';

/** Most scopes one token carries. */
export const MAX_TOKEN_SCOPES = 100;

export enum TokenStatus {
  ACTIVE = 'ACTIVE',
  SUSPENDED = 'SUSPENDED',
  EXPIRED = 'EXPIRED',
  REVOKED = 'REVOKED',
}
registerEnumType(TokenStatus, { name: 'TokenStatus' });

export enum TokenKind {
  CONTROL = 'CONTROL',
  DATA = 'DATA',
}
registerEnumType(TokenKind, {
  name: 'TokenKind',
  description:
    'Whether a token may call Latchkey itself. Fixed at issue: it never changes with the scopes a token has left.',
  valuesConfig: {
    CONTROL: { description: "Authenticates to Latchkey with its owner's roles; carries no API scopes." },
    DATA: { description: 'Reaches the APIs its scopes allow; never authenticates to Latchkey.' },
  },
});

export enum SecretState {
  CURRENT = 'CURRENT',
  PREVIOUS = 'PREVIOUS',
  RETIRED = 'RETIRED',
  REVOKED = 'REVOKED',
}
registerEnumType(SecretState, {
  name: 'SecretState',
  valuesConfig: {
    CURRENT: { description: 'The secret that rotation produced last; always valid while the token is ACTIVE.' },
    PREVIOUS: { description: 'Replaced by a rotation; still valid until graceEndsAt.' },
    RETIRED: { description: 'Past its grace period; no longer valid.' },
  },
});

/** One generation of a token's value, as the API shows it: a hint, never the hash. */
@ObjectType()
export class TokenSecret {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Prefix and last four characters, never more, for example lk_…a1b2' })
  hint!: string;

  @Field(() => SecretState)
  state!: SecretStateValue;

  @Field(() => Int)
  generation!: number;

  @Field()
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  graceEndsAt!: Date | null;
}

/**
 * The API view of a token. owner, scopes, secrets and rotationPolicy are resolved per field
 * through DataLoaders.
 */
@ObjectType()
export class Token {
  @Field(() => ID)
  id!: string;

  ownerId!: string;
  rotationPolicyId!: string | null;
  /** Related objects already at hand (events carry them), so field resolvers need no query. */
  preloaded?: { scopes: Scope[]; owner: Owner };

  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => JSONObjectScalar)
  labels!: Record<string, string>;

  @Field(() => TokenStatus)
  status!: TokenStatusValue;

  @Field(() => TokenKind)
  kind!: TokenKindValue;

  @Field(() => Int, { description: '1 at issue, +1 per rotation' })
  generation!: number;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: "When the token stops working: the earlier of requestedExpiresAt and its policy's lifetime.",
  })
  expiresAt!: Date | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'The expiry asked for at issue or set since (null: none asked for; the policy may still set one).',
  })
  requestedExpiresAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  nextRotationAt!: Date | null;

  @Field()
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  revokedAt!: Date | null;

  @Field(() => String, { nullable: true })
  revokedReason!: string | null;

  @Field(() => String, { nullable: true })
  suspendedReason!: string | null;

  @Field(() => RateLimit, { nullable: true, description: "The token's own limit; without one, its policy's applies." })
  rateLimit!: RateLimit | null;

  @Field(() => [String], { nullable: true, description: 'Networks the token may be used from; null: anywhere.' })
  allowedCidrs!: string[] | null;
}

@ObjectType()
export class DailyUsage {
  @Field({ description: 'UTC day, YYYY-MM-DD' })
  day!: string;

  @Field(() => SafeIntScalar)
  count!: number;
}

export const TokenConnection = ConnectionType(Token, 'Token');

@ObjectType()
export class IssuedToken {
  @Field(() => Token)
  token!: Token;

  @Field({ description: 'The plaintext secret. Returned once; the server keeps only a keyed hash.' })
  secret!: string;
}

@ObjectType()
export class BulkRevokeResult {
  @Field(() => Int)
  count!: number;

  @Field(() => [ID])
  tokenIds!: string[];
}

@InputType()
export class TokenFilter {
  @Field(() => ID, { nullable: true })
  ownerId?: string | null;

  @Field(() => [TokenStatus], { nullable: true })
  status?: TokenStatus[] | null;

  @Field(() => String, { nullable: true, description: 'Tokens carrying this scope (by name).' })
  scope?: string | null;

  @Field(() => JSONObjectScalar, { nullable: true, description: 'Tokens whose labels contain all of these.' })
  labels?: Record<string, unknown> | null;

  @Field(() => DateTimeScalar, { nullable: true })
  expiresBefore?: Date | null;

  @Field(() => String, { nullable: true, description: 'Case-insensitive substring of the name.' })
  @IsOptional()
  @MaxLength(200)
  search?: string | null;
}

@InputType()
export class IssueTokenInput {
  @Field(() => ID)
  ownerId!: string;

  @Field()
  @Length(1, 200)
  name!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(1000)
  description?: string | null;

  @Field(() => [String])
  @ArrayMaxSize(MAX_TOKEN_SCOPES)
  scopes!: string[];

  @Field(() => TokenKind, {
    nullable: true,
    description: 'Default: CONTROL when scopes is empty, DATA otherwise. A CONTROL token carries no scopes.',
  })
  kind?: TokenKind | null;

  @Field(() => JSONObjectScalar, { nullable: true })
  labels?: Record<string, unknown> | null;

  @Field(() => DateTimeScalar, { nullable: true })
  expiresAt?: Date | null;

  @Field(() => ID, { nullable: true })
  rotationPolicyId?: string | null;

  @Field(() => RateLimitInput, { nullable: true })
  rateLimit?: RateLimitInput | null;

  @Field(() => [String], {
    nullable: true,
    description: 'CIDRs such as 10.0.0.0/8 or 2001:db8::/32; the token verifies only from these.',
  })
  @IsOptional()
  @ArrayMaxSize(50)
  allowedCidrs?: string[] | null;
}

@InputType({ description: 'Fields left out stay as they are.' })
export class UpdateTokenInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 200)
  name?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(1000)
  description?: string | null;

  @Field(() => JSONObjectScalar, { nullable: true, description: 'Replaces all labels.' })
  labels?: Record<string, unknown> | null;

  @Field(() => RateLimitInput, { nullable: true, description: 'null removes the token’s own limit.' })
  rateLimit?: RateLimitInput | null;

  @Field(() => [String], { nullable: true, description: 'null allows every network again.' })
  @IsOptional()
  @ArrayMaxSize(50)
  allowedCidrs?: string[] | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description:
      'The requested expiry. Refused when the token would then stop working later than it does now; e.g. to retire a replaced token after an overlap.',
  })
  expiresAt?: Date | null;
}
