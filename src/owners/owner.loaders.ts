// The loaders owner fields read.
import type DataLoader from 'dataloader';
import type { RequestContext } from '../iam/request-context';
import type { Role } from '../roles/role.entity';
import type { Scope } from '../scopes/scope.entity';

export interface OwnerLoaders {
  ownerRoles: DataLoader<string, Role[]>;
  ownerScopes: DataLoader<string, Scope[]>;
}

export type OwnerContext = RequestContext & { loaders: OwnerLoaders };
