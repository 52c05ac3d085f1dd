import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql';
import { Permission } from '../iam/permissions';
import type { RequestContext } from '../iam/request-context';
import { DurationScalar } from '../platform/duration';
import { TokenFilter } from '../tokens/token.types';
import { LifecycleOperations, RotationPlan } from './lifecycle.types';
import type { LifecycleOps } from './operations';
import type { LifecyclePreview } from './preview';

@Resolver()
export class LifecycleResolver {
  constructor(
    private readonly preview: LifecyclePreview,
    private readonly ops: LifecycleOps,
  ) {}

  @Authorized(Permission.TOKEN_READ)
  @Query(() => RotationPlan, {
    description:
      'The rotations, expiries, warnings and retirements due within the window (overdue ones first), in order.',
  })
  rotationPlan(
    @Arg('within', () => DurationScalar) within: number,
    @Arg('filter', () => TokenFilter, { nullable: true }) filter: TokenFilter | null,
    @Arg('first', () => Int, { defaultValue: 200, description: 'At most 1000.' }) first: number,
    @Ctx() ctx: RequestContext,
  ): Promise<RotationPlan> {
    return this.preview.rotationPlan(ctx.principal, within, filter, first);
  }

  @Authorized(Permission.POLICY_WRITE)
  @Query(() => LifecycleOperations, {
    description: 'Queue depths, planner lag and failed jobs of the scheduled lifecycle.',
  })
  lifecycleOperations(@Ctx() ctx: RequestContext): Promise<LifecycleOperations> {
    return this.ops.view(ctx.principal.tenantId);
  }
}
