// The loaders token fields read: a page of tokens loads its relations in a constant number of queries.
import type DataLoader from 'dataloader';
import type { RequestContext } from '../iam/request-context';
import type { Owner } from '../owners/owner.entity';
import type { RotationPolicy } from '../policies/rotation-policy.entity';
import type { Scope } from '../scopes/scope.entity';
import type { TokenSecretRow } from './token-secret.entity';
import type { UsageSummary } from './token-usage';
import type { DailyUsage } from './token.types';

export interface TokenLoaders {
  owner: DataLoader<string, Owner | null>;
  tokenScopes: DataLoader<string, Scope[]>;
  tokenSecrets: DataLoader<string, TokenSecretRow[]>;
  usageSummary: DataLoader<string, UsageSummary>;
  /** One loader per date range asked for in the operation. */
  usage(from: Date, to: Date): DataLoader<string, DailyUsage[]>;
  policy: DataLoader<string, RotationPolicy | null>;
}

export type TokenContext = RequestContext & { loaders: TokenLoaders };
