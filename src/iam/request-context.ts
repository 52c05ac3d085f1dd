// What every GraphQL resolver of every domain receives: who is calling, from where, under which
// request id, and the logger that names it. Each domain adds the loaders its resolvers read
// (`TokenContext` in tokens/, …); app/ builds one object that is all of them.
import type { Logger } from 'pino';
import type { Principal } from './principal';

export interface RequestContext {
  requestId: string;
  principal: Principal;
  log: Logger;
  /** The caller's address as the trusted proxies report it (null when unknown). */
  clientIp: string | null;
}
