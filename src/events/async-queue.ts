// A push-driven async iterator: producers push, a GraphQL subscription pulls. Bounded: a consumer
// that falls too far behind is ended with an error instead of growing memory without limit.
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly waiting: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  private closed = false;
  private failure: unknown = null;

  constructor(
    private readonly onClose: () => void = () => undefined,
    private readonly limit = 10_000,
  ) {}

  push(item: T): void {
    if (this.closed) return;
    const w = this.waiting.shift();
    if (w) return w.resolve({ value: item, done: false });
    if (this.items.length >= this.limit) {
      this.fail(
        new Error(`subscriber fell more than ${this.limit} events behind; resubscribe with afterSeq to resume`),
      );
      return;
    }
    this.items.push(item);
  }

  fail(err: unknown): void {
    if (this.closed) return;
    this.failure = err;
    this.finish();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.failure) {
      const err = this.failure;
      this.failure = null;
      return Promise.reject(err);
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err: unknown): Promise<IteratorResult<T>> {
    this.fail(err);
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    for (const w of this.waiting.splice(0)) {
      if (this.failure) {
        w.reject(this.failure);
        this.failure = null;
      } else w.resolve({ value: undefined, done: true });
    }
  }
}
