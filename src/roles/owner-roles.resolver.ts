// An owner's roles, as a field of Owner: roles stand above owners, so the field is theirs to add.
import { Ctx, Extensions, FieldResolver, Resolver, Root } from 'type-graphql';
import { Owner } from '../owners/owner.entity';
import { QUOTAS } from '../platform/quotas';
import { Role } from './role.entity';
import type { RoleContext } from './role.loaders';

@Resolver(() => Owner)
export class OwnerRolesResolver {
  @FieldResolver(() => [Role])
  @Extensions({ maxItems: QUOTAS.roles })
  roles(@Root() owner: Owner, @Ctx() ctx: RoleContext): Promise<Role[]> {
    return ctx.loaders.ownerRoles.load(owner.id);
  }
}
