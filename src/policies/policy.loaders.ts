// The loaders policy fields read.
import type DataLoader from 'dataloader';
import type { RequestContext } from '../iam/request-context';
import type { PolicyUsage } from './policy.types';

export interface PolicyLoaders {
  policyUsage: DataLoader<string, PolicyUsage>;
}

export type PolicyContext = RequestContext & { loaders: PolicyLoaders };
