// Changing a rotation policy, and what the change does to the schedule: updateRotationPolicy
// (a dry run too) answers the policy with its planImpact, the actions the change adds and removes.
import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import { Permission } from '../iam/permissions';
import { requirePermission } from '../iam/principal';
import type { RequestContext } from '../iam/request-context';
import { DurationScalar } from '../platform/duration';
import { normalisePolicy, type PolicyService } from '../policies/policy.service';
import { RotationPolicyInput } from '../policies/policy.types';
import { RotationPolicy } from '../policies/rotation-policy.entity';
import { RotationPlanDiff } from './lifecycle.types';
import type { LifecyclePreview } from './preview';

type WithImpact = RotationPolicy & { planImpact?: RotationPlanDiff | null };

@Resolver(() => RotationPolicy)
export class PolicyImpactResolver {
  constructor(
    private readonly service: PolicyService,
    private readonly preview: LifecyclePreview,
  ) {}

  @FieldResolver(() => RotationPlanDiff, {
    nullable: true,
    description:
      'Set only on the result of updateRotationPolicy: how the change moves (or, with dryRun, would move) what the workers do.',
  })
  planImpact(@Root() policy: WithImpact): RotationPlanDiff | null {
    return policy.planImpact ?? null;
  }

  // A dry run changes nothing, so reading policies is enough for it (a plan in a pull request).
  @Authorized(Permission.POLICY_READ)
  @Mutation(() => RotationPolicy, { description: 'Needs POLICY_WRITE, or POLICY_READ for a dry run.' })
  async updateRotationPolicy(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => RotationPolicyInput) input: RotationPolicyInput,
    @Arg('dryRun', {
      defaultValue: false,
      description: 'Change nothing: return the policy as it would be, with its planImpact.',
    })
    dryRun: boolean,
    @Arg('within', () => DurationScalar, { defaultValue: 30 * 86_400, description: 'The window planImpact looks at.' })
    within: number,
    @Ctx() ctx: RequestContext,
  ): Promise<WithImpact> {
    if (!dryRun) requirePermission(ctx.principal, Permission.POLICY_WRITE);
    const fields = normalisePolicy(input);
    const planImpact = await this.preview.policyDiff(ctx.principal, id, fields, within, 100);
    if (dryRun) return { ...(await this.service.get(ctx.principal, id)), ...fields, planImpact };
    return { ...(await this.service.update(ctx.principal, id, input)), planImpact };
  }
}
