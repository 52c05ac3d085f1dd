// The loaders role fields read.
import type DataLoader from 'dataloader';
import type { RequestContext } from '../iam/request-context';
import type { Role } from './role.entity';

export interface RoleLoaders {
  ownerRoles: DataLoader<string, Role[]>;
}

export type RoleContext = RequestContext & { loaders: RoleLoaders };
