import { Arg, Authorized, Ctx, Extensions, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { QUOTAS } from '../platform/quotas';
import { RateLimit, rateLimitOf } from './rate-limit';
import { Permission } from '../iam/permissions';
import type { PolicyContext } from './policy.loaders';
import { RotationPolicy } from './rotation-policy.entity';
import type { PolicyService } from './policy.service';
import { PolicyUsage, RotationPolicyInput } from './policy.types';

@Resolver(() => RotationPolicy)
export class PolicyResolver {
  constructor(private readonly service: PolicyService) {}

  @Authorized(Permission.POLICY_READ)
  @Query(() => [RotationPolicy])
  @Extensions({ maxItems: QUOTAS.rotationPolicies })
  rotationPolicies(@Ctx() ctx: PolicyContext): Promise<RotationPolicy[]> {
    return this.service.list(ctx.principal);
  }

  @Authorized(Permission.POLICY_READ)
  @Query(() => RotationPolicy, { nullable: true })
  rotationPolicy(@Arg('id', () => ID) id: string, @Ctx() ctx: PolicyContext): Promise<RotationPolicy> {
    return this.service.get(ctx.principal, id);
  }

  @Authorized(Permission.POLICY_WRITE)
  @Mutation(() => RotationPolicy)
  createRotationPolicy(
    @Arg('input', () => RotationPolicyInput) input: RotationPolicyInput,
    @Ctx() ctx: PolicyContext,
  ): Promise<RotationPolicy> {
    return this.service.create(ctx.principal, input);
  }

  // Counting every owner's tokens takes seeing every owner's tokens.
  @Authorized(Permission.TOKEN_READ, Permission.TOKEN_ALL_OWNERS)
  @FieldResolver(() => PolicyUsage, {
    description: 'What holds the policy (what deleteRotationPolicy is refused over).',
  })
  usage(@Root() policy: RotationPolicy, @Ctx() ctx: PolicyContext): Promise<PolicyUsage> {
    return ctx.loaders.policyUsage.load(policy.id);
  }

  @FieldResolver(() => RateLimit, {
    nullable: true,
    description: 'Applies to tokens under the policy that have no limit of their own.',
  })
  rateLimit(@Root() policy: RotationPolicy): RateLimit | null {
    return rateLimitOf(policy);
  }

  @Authorized(Permission.POLICY_WRITE)
  @Mutation(() => Boolean, {
    description: 'Refused while a live token is under the policy or a credential is timed by it (see usage).',
  })
  deleteRotationPolicy(@Arg('id', () => ID) id: string, @Ctx() ctx: PolicyContext): Promise<boolean> {
    return this.service.delete(ctx.principal, id);
  }
}
