// At most `running` of one kind of heavy work at a time in this process, the rest waiting in turn
// (and refused once `waiting` wait): a few callers asking for expensive previews at once slow
// each other down, not every other request of every tenant.
import { DomainError, ErrorCode } from './errors';

export class Gate {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly running: number,
    private readonly waiting: number,
    private readonly what: string,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.running) {
      if (this.queue.length >= this.waiting) {
        throw new DomainError(ErrorCode.RATE_LIMITED, `too many ${this.what} at once; retry in a few seconds`, {
          retryAfter: 5,
        });
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      // The place passes to the next in line, if any; otherwise it is given back.
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}
