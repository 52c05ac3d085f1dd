// Invalidations on Redis pub/sub: a change to tokens or permissions, announced after commit, makes
// every replica drop what it cached. Missing a message is safe only because entries die by TTL,
// so a reconnect also tells listeners to forget everything.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisReady } from '../platform/redis';

export type Invalidation =
  | { kind: 'tokens'; ids: string[] }
  | { kind: 'permissions' }
  /** The channel was down: anything may have been missed. */
  | { kind: 'reset' };

export type InvalidationListener = (msg: Invalidation) => void;

export class InvalidationBus {
  private readonly listeners = new Set<InvalidationListener>();
  private readonly channel: string;
  private connectedOnce = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    prefix: string,
    private readonly log: Logger,
  ) {
    this.channel = `${prefix}:invalidate`;
  }

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      try {
        this.emit(JSON.parse(raw) as Invalidation);
      } catch (err) {
        this.log.warn({ err }, 'ignoring a malformed invalidation');
      }
    });
    this.subscriber.on('ready', () => {
      if (this.connectedOnce) this.emit({ kind: 'reset' });
      this.connectedOnce = true;
    });
    await this.subscriber.subscribe(this.channel);
    this.connectedOnce = true;
  }

  listen(listener: InvalidationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells this process at once and every other replica through Redis. */
  async publish(msg: Invalidation): Promise<void> {
    this.emit(msg);
    if (!redisReady(this.publisher)) throw new Error('Redis is not connected');
    await this.publisher.publish(this.channel, JSON.stringify(msg));
  }

  /** Tells this process only (what the change poller found is found by every replica itself). */
  deliverLocally(msg: Invalidation): void {
    this.emit(msg);
  }

  private emit(msg: Invalidation): void {
    for (const l of this.listeners) l(msg);
  }
}
