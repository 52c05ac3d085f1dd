// What every GraphQL resolver receives: who is calling, per-request loaders and a logger.
import type { Logger } from 'pino';
import type { Principal } from '../iam/principal';
import type { Loaders } from './loaders';
import type { EventService } from '../events/event.service';

export interface Context {
  requestId: string;
  principal: Principal;
  loaders: Loaders;
  log: Logger;
  /** The caller's address as the trusted proxies report it (HTTP only). */
  clientIp?: string | null;
  /** Over WebSocket only: the event streams, and the connection's principal as it is now. */
  events?: { service: EventService; principal: () => Principal; grantedCredentials(p: Principal): Promise<Set<string>> };
}
