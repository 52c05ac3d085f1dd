// The loaders scope fields read.
import type DataLoader from 'dataloader';
import type { RequestContext } from '../iam/request-context';
import type { ScopeUsage } from './scope.types';

export interface ScopeLoaders {
  scopeUsage: DataLoader<string, ScopeUsage>;
}

export type ScopeContext = RequestContext & { loaders: ScopeLoaders };
