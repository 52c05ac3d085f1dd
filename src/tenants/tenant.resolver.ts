import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Permission } from '../iam/permissions';
import type { RequestContext } from '../iam/request-context';
import { Tenant } from './tenant.entity';
import type { TenantService } from './tenant.service';
import { CreatedTenant, CreateTenantInput } from './tenant.types';

@Resolver(() => Tenant)
export class TenantResolver {
  constructor(private readonly service: TenantService) {}

  @Query(() => Tenant)
  tenant(@Ctx() ctx: RequestContext): Promise<Tenant> {
    return this.service.get(ctx.principal);
  }

  @Authorized(Permission.PLATFORM_ADMIN)
  @Mutation(() => CreatedTenant)
  createTenant(
    @Arg('input', () => CreateTenantInput) input: CreateTenantInput,
    @Ctx() ctx: RequestContext,
  ): Promise<CreatedTenant> {
    return this.service.create(ctx.principal, input);
  }
}
