// The loaders credential fields read.
import type DataLoader from 'dataloader';
import type { RequestContext } from '../iam/request-context';
import type { CredentialGrant, CredentialVersion } from './credential.entity';

export interface CredentialLoaders {
  credentialReaders: DataLoader<string, CredentialGrant[]>;
  currentCredentialVersion: DataLoader<string, CredentialVersion | null>;
}

export type CredentialContext = RequestContext & { loaders: CredentialLoaders };
