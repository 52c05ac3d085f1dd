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
import { SECRETS_SHOWN, USAGE_MAX_DAYS } from './token-usage';
import { Permission } from '../iam/permissions';
import { Owner } from '../owners/owner.entity';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import type { TokenContext } from './token.loaders';
import { DurationScalar } from '../platform/duration';
import type { Connection } from '../platform/pagination';
import { Scope } from '../scopes/scope.entity';
import type { TokenRotation } from './token-rotation';
import type { TokenService } from './token.service';
import type { TokenSettings } from './token-settings';
import type { TokenStatusChanges } from './token-status';
import { badInput } from '../platform/errors';
import { DateTimeScalar, SafeIntScalar } from '../platform/graphql-types';
import {
  BulkRevokeResult,
  DailyUsage,
  IssuedToken,
  IssueTokenInput,
  MAX_TOKEN_SCOPES,
  Token,
  TokenConnection,
  TokenFilter,
  TokenSecret,
  UpdateTokenInput,
} from './token.types';

@Resolver(() => Token)
export class TokenResolver {
  constructor(
    private readonly service: TokenService,
    private readonly status: TokenStatusChanges,
    private readonly settings: TokenSettings,
    private readonly rotation: TokenRotation,
  ) {}

  @Authorized(Permission.TOKEN_READ)
  @Query(() => Token, { nullable: true })
  token(@Arg('id', () => ID) id: string, @Ctx() ctx: TokenContext): Promise<Token> {
    return this.service.get(ctx.principal, id);
  }

  @Authorized(Permission.TOKEN_READ)
  @Query(() => TokenConnection)
  tokens(
    @Ctx() ctx: TokenContext,
    @Arg('filter', () => TokenFilter, { nullable: true }) filter?: TokenFilter,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('newestFirst', () => Boolean, {
      nullable: true,
      description: 'Newest first; oldest first when false or left out.',
    })
    newestFirst?: boolean,
  ): Promise<Connection<Token>> {
    return this.service.list(ctx.principal, filter, first, after, newestFirst ?? false);
  }

  @Authorized(Permission.TOKEN_READ)
  @Query(() => TokenConnection, {
    description: 'ACTIVE tokens not used (or, never used, not created) within unusedFor: candidates for revocation.',
  })
  dormantTokens(
    @Arg('unusedFor', () => DurationScalar) unusedFor: number,
    @Ctx() ctx: TokenContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<Connection<Token>> {
    return this.service.dormant(ctx.principal, unusedFor, first, after);
  }

  @Authorized(Permission.TOKEN_CREATE)
  @Mutation(() => IssuedToken)
  issueToken(
    @Arg('input', () => IssueTokenInput) input: IssueTokenInput,
    @Ctx() ctx: TokenContext,
  ): Promise<IssuedToken> {
    return this.service.issue(ctx.principal, input);
  }

  @Authorized(Permission.TOKEN_ROTATE)
  @Mutation(() => IssuedToken)
  rotateToken(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: TokenContext,
    @Arg('gracePeriod', () => DurationScalar, { nullable: true }) gracePeriod?: number,
  ): Promise<IssuedToken> {
    return this.rotation.rotate(ctx.principal, id, gracePeriod);
  }

  @Authorized(Permission.TOKEN_REVOKE)
  @Mutation(() => Token)
  revokeToken(
    @Arg('id', () => ID) id: string,
    @Arg('reason') reason: string,
    @Ctx() ctx: TokenContext,
  ): Promise<Token> {
    return this.status.revoke(ctx.principal, id, reason);
  }

  @Authorized(Permission.TOKEN_REVOKE)
  @Mutation(() => BulkRevokeResult)
  revokeTokens(
    @Arg('filter', () => TokenFilter) filter: TokenFilter,
    @Arg('reason') reason: string,
    @Ctx() ctx: TokenContext,
  ): Promise<BulkRevokeResult> {
    return this.status.revokeMany(ctx.principal, filter, reason);
  }

  @Authorized(Permission.TOKEN_REVOKE)
  @Mutation(() => Token, { description: 'Disable without revoking: verification answers SUSPENDED until resumed.' })
  suspendToken(
    @Arg('id', () => ID) id: string,
    @Arg('reason') reason: string,
    @Ctx() ctx: TokenContext,
  ): Promise<Token> {
    return this.status.suspend(ctx.principal, id, reason);
  }

  @Authorized(Permission.TOKEN_REVOKE)
  @Mutation(() => Token)
  resumeToken(@Arg('id', () => ID) id: string, @Ctx() ctx: TokenContext): Promise<Token> {
    return this.status.resume(ctx.principal, id);
  }

  @Authorized(Permission.TOKEN_CREATE)
  @Mutation(() => Token)
  updateToken(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateTokenInput) input: UpdateTokenInput,
    @Ctx() ctx: TokenContext,
  ): Promise<Token> {
    return this.settings.update(ctx.principal, id, input);
  }

  @Authorized(Permission.TOKEN_ROTATE)
  @Mutation(() => Token)
  setTokenPolicy(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: TokenContext,
    @Arg('rotationPolicyId', () => ID, { nullable: true }) rotationPolicyId?: string,
  ): Promise<Token> {
    return this.settings.setPolicy(ctx.principal, id, rotationPolicyId);
  }

  @FieldResolver(() => Owner)
  async owner(@Root() token: Token, @Ctx() ctx: TokenContext): Promise<Owner> {
    return token.preloaded?.owner ?? (await ctx.loaders.owner.load(token.ownerId))!;
  }

  @FieldResolver(() => [Scope])
  @Extensions({ maxItems: MAX_TOKEN_SCOPES })
  async scopes(@Root() token: Token, @Ctx() ctx: TokenContext): Promise<Scope[]> {
    return token.preloaded?.scopes ?? ctx.loaders.tokenScopes.load(token.id);
  }

  @FieldResolver(() => [TokenSecret], { description: 'The ten latest generations, newest first.' })
  @Extensions({ maxItems: SECRETS_SHOWN })
  secrets(@Root() token: Token, @Ctx() ctx: TokenContext): Promise<TokenSecret[]> {
    return ctx.loaders.tokenSecrets.load(token.id);
  }

  @FieldResolver(() => DateTimeScalar, {
    nullable: true,
    description: 'Usage is written every USAGE_FLUSH_MS, so this lags by up to that.',
  })
  async lastUsedAt(@Root() token: Token, @Ctx() ctx: TokenContext): Promise<Date | null> {
    return (await ctx.loaders.usageSummary.load(token.id)).lastUsedAt;
  }

  @FieldResolver(() => SafeIntScalar)
  async usageCount(@Root() token: Token, @Ctx() ctx: TokenContext): Promise<number> {
    return (await ctx.loaders.usageSummary.load(token.id)).usageCount;
  }

  @FieldResolver(() => [String], { description: 'The last client addresses seen, newest first.' })
  async lastClientIps(@Root() token: Token, @Ctx() ctx: TokenContext): Promise<string[]> {
    return (await ctx.loaders.usageSummary.load(token.id)).lastClientIps;
  }

  @FieldResolver(() => [DailyUsage], {
    description:
      'Successful verifications per UTC day from `from` to `to` (at most 366 days). Written every USAGE_DAILY_FLUSH_MS, so the current day lags by up to that.',
  })
  @Extensions({ maxItems: USAGE_MAX_DAYS })
  usage(
    @Root() token: Token,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Ctx() ctx: TokenContext,
  ): Promise<DailyUsage[]> {
    if (to < from || to.getTime() - from.getTime() > (USAGE_MAX_DAYS - 1) * 86_400_000) {
      throw badInput(`usage needs from <= to, at most ${USAGE_MAX_DAYS - 1} days apart`, { argument: 'from' });
    }
    return ctx.loaders.usage(from, to).load(token.id);
  }

  @FieldResolver(() => RotationPolicy, { nullable: true })
  async rotationPolicy(@Root() token: Token, @Ctx() ctx: TokenContext): Promise<RotationPolicy | null> {
    return token.rotationPolicyId ? ctx.loaders.policy.load(token.rotationPolicyId) : null;
  }
}
