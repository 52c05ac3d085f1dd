import { Arg, Authorized, Ctx, Extensions, ID, Mutation, Query, Resolver } from 'type-graphql';
import { QUOTAS } from '../platform/quotas';
import { Owner } from '../owners/owner.entity';
import type { RequestContext } from '../iam/request-context';
import { Permission } from '../iam/permissions';
import { Role } from './role.entity';
import type { RoleService } from './role.service';
import { CreateRoleInput, UpdateRoleInput } from './role.types';

@Resolver(() => Role)
export class RoleResolver {
  constructor(private readonly service: RoleService) {}

  @Authorized(Permission.ROLE_READ)
  @Query(() => [Role])
  @Extensions({ maxItems: QUOTAS.roles })
  roles(@Ctx() ctx: RequestContext): Promise<Role[]> {
    return this.service.list(ctx.principal);
  }

  @Authorized(Permission.ROLE_WRITE)
  @Mutation(() => Role)
  createRole(@Arg('input', () => CreateRoleInput) input: CreateRoleInput, @Ctx() ctx: RequestContext): Promise<Role> {
    return this.service.create(ctx.principal, input);
  }

  @Authorized(Permission.ROLE_WRITE)
  @Mutation(() => Role, { description: 'Changes a custom role; built-in roles are fixed.' })
  updateRole(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateRoleInput) input: UpdateRoleInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Role> {
    return this.service.update(ctx.principal, id, input);
  }

  @Authorized(Permission.ROLE_WRITE)
  @Mutation(() => Owner)
  assignRole(
    @Arg('ownerId', () => ID) ownerId: string,
    @Arg('roleId', () => ID) roleId: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Owner> {
    return this.service.assign(ctx.principal, ownerId, roleId);
  }

  @Authorized(Permission.ROLE_WRITE)
  @Mutation(() => Owner)
  unassignRole(
    @Arg('ownerId', () => ID) ownerId: string,
    @Arg('roleId', () => ID) roleId: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Owner> {
    return this.service.unassign(ctx.principal, ownerId, roleId);
  }

  @Authorized(Permission.ROLE_WRITE)
  @Mutation(() => Boolean, { description: 'Deletes a custom role nobody holds; built-in roles stay.' })
  deleteRole(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return this.service.delete(ctx.principal, id);
  }
}
