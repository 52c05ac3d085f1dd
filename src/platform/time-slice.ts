// Long computations on the request path (previews, dry runs) give the event loop a turn every few
// milliseconds, so that health checks, verifications and other requests are answered meanwhile.
import { setImmediate as turn } from 'node:timers/promises';

export class TimeSlice {
  private since = performance.now();

  constructor(private readonly sliceMs = 5) {}

  /** Lets everything else waiting run when this computation has held the loop for a slice. */
  async yield(): Promise<void> {
    if (performance.now() - this.since < this.sliceMs) return;
    await turn();
    this.since = performance.now();
  }
}
