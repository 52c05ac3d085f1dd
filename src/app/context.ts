// What every GraphQL resolver receives: the request context every domain knows, the loaders of
// every domain in one object, and, over WebSocket, the event streams.
import type { EventContext } from '../events/event.context';
import type { Loaders } from './loaders';

export type Context = EventContext & { loaders: Loaders };
