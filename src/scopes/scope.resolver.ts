import { Arg, Authorized, Ctx, Extensions, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { QUOTAS } from '../platform/quotas';
import { Permission } from '../iam/permissions';
import type { ScopeContext } from './scope.loaders';
import { Scope } from './scope.entity';
import type { ScopeService } from './scope.service';
import { CreateScopeInput, ScopeUsage, UpdateScopeInput } from './scope.types';

@Resolver(() => Scope)
export class ScopeResolver {
  constructor(private readonly service: ScopeService) {}

  @Authorized(Permission.SCOPE_READ)
  @Query(() => [Scope])
  @Extensions({ maxItems: QUOTAS.scopes })
  scopes(@Ctx() ctx: ScopeContext): Promise<Scope[]> {
    return this.service.list(ctx.principal);
  }

  // Counting every owner's tokens takes seeing every owner's tokens.
  @Authorized(Permission.TOKEN_READ, Permission.TOKEN_ALL_OWNERS)
  @FieldResolver(() => ScopeUsage, { description: 'What holds the scope (what deleteScope is refused over).' })
  usage(@Root() scope: Scope, @Ctx() ctx: ScopeContext): Promise<ScopeUsage> {
    return ctx.loaders.scopeUsage.load(scope.id);
  }

  @Authorized(Permission.SCOPE_WRITE)
  @Mutation(() => Scope)
  createScope(@Arg('input', () => CreateScopeInput) input: CreateScopeInput, @Ctx() ctx: ScopeContext): Promise<Scope> {
    return this.service.create(ctx.principal, input);
  }

  @Authorized(Permission.SCOPE_WRITE)
  @Mutation(() => Scope)
  updateScope(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateScopeInput) input: UpdateScopeInput,
    @Ctx() ctx: ScopeContext,
  ): Promise<Scope> {
    return this.service.update(ctx.principal, id, input);
  }

  @Authorized(Permission.SCOPE_WRITE)
  @Mutation(() => Boolean, {
    description: 'Refused while an owner ceiling or a live token holds the scope (see usage).',
  })
  deleteScope(@Arg('id', () => ID) id: string, @Ctx() ctx: ScopeContext): Promise<boolean> {
    return this.service.delete(ctx.principal, id);
  }
}
