// What a subscription's resolvers receive over WebSocket: the request context, and the event
// streams with the connection's principal as it is now (roles can change while connected).
import type { Principal } from '../iam/principal';
import type { RequestContext } from '../iam/request-context';
import type { EventService } from './event.service';

export interface EventStreams {
  service: EventService;
  principal: () => Principal;
  grantedCredentials(p: Principal): Promise<Set<string>>;
}

export type EventContext = RequestContext & { events?: EventStreams };
