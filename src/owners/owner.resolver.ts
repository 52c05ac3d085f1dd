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
import { MAX_CEILING } from './owner.types';
import { Permission } from '../iam/permissions';
import type { OwnerContext } from './owner.loaders';
import type { Connection } from '../platform/pagination';
import { Scope } from '../scopes/scope.entity';
import { Owner } from './owner.entity';
import type { OwnerService } from './owner.service';
import { CreateOwnerInput, OwnerConnection, UpdateOwnerInput } from './owner.types';

@Resolver(() => Owner)
export class OwnerResolver {
  constructor(private readonly service: OwnerService) {}

  @Query(() => Owner, { description: 'The owner behind the bearer token of this request.' })
  viewer(@Ctx() ctx: OwnerContext): Promise<Owner> {
    return this.service.get(ctx.principal, ctx.principal.ownerId);
  }

  // OWNER_READ, or the caller's own id: checked by the service.
  @Query(() => Owner, { nullable: true })
  owner(@Arg('id', () => ID) id: string, @Ctx() ctx: OwnerContext): Promise<Owner> {
    return this.service.get(ctx.principal, id);
  }

  @Authorized(Permission.OWNER_READ)
  @Query(() => OwnerConnection)
  owners(
    @Ctx() ctx: OwnerContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<Connection<Owner>> {
    return this.service.list(ctx.principal, first, after);
  }

  @Authorized(Permission.OWNER_WRITE)
  @Mutation(() => Owner)
  createOwner(@Arg('input', () => CreateOwnerInput) input: CreateOwnerInput, @Ctx() ctx: OwnerContext): Promise<Owner> {
    return this.service.create(ctx.principal, input);
  }

  @Authorized(Permission.OWNER_WRITE)
  @Mutation(() => Owner)
  updateOwner(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateOwnerInput) input: UpdateOwnerInput,
    @Ctx() ctx: OwnerContext,
  ): Promise<Owner> {
    return this.service.update(ctx.principal, id, input);
  }

  @FieldResolver(() => [Scope], { description: 'The ceiling of scopes that tokens of this owner may carry.' })
  @Extensions({ maxItems: MAX_CEILING })
  allowedScopes(@Root() owner: Owner, @Ctx() ctx: OwnerContext): Promise<Scope[]> {
    return ctx.loaders.ownerScopes.load(owner.id);
  }
}
