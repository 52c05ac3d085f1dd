// What every GraphQL resolver receives: who is calling, per-request loaders and a logger.
import type { Logger } from 'pino';
import type { Principal } from '../iam/principal';
import type { Loaders } from '../app/loaders';

export interface Context {
  requestId: string;
  principal: Principal;
  loaders: Loaders;
  log: Logger;
}
