import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Permission } from '../iam/permissions';
import type { Context } from '../platform/context';
import { Scope } from './scope.entity';
import type { ScopeService } from './scope.service';
import { CreateScopeInput } from './scope.types';

@Resolver(() => Scope)
export class ScopeResolver {
  constructor(private readonly service: ScopeService) {}

  @Authorized(Permission.SCOPE_READ)
  @Query(() => [Scope])
  scopes(@Ctx() ctx: Context): Promise<Scope[]> {
    return this.service.list(ctx.principal);
  }

  @Authorized(Permission.SCOPE_WRITE)
  @Mutation(() => Scope)
  createScope(@Arg('input', () => CreateScopeInput) input: CreateScopeInput, @Ctx() ctx: Context): Promise<Scope> {
    return this.service.create(ctx.principal, input);
  }
}
