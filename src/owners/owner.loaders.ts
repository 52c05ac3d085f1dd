// The loaders owner fields read.
import type DataLoader from 'dataloader';
import type { RequestContext } from '../iam/request-context';
import type { Scope } from '../scopes/scope.entity';

export interface OwnerLoaders {
  ownerScopes: DataLoader<string, Scope[]>;
}

export type OwnerContext = RequestContext & { loaders: OwnerLoaders };
