// The workers' clock: the periodic work of every domain, registered in one list (app/worker.ts)
// and run at every tick, one tick at a time cluster-wide. A task may ask to run less often; one
// that fails is logged and holds none of the others.
import type { Logger } from 'pino';

export interface ClockTask {
  name: string;
  /** At most this often (per process); every tick when absent. */
  everyMs?: number;
  run(): Promise<unknown>;
}

export class Clock {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly tasks: readonly ClockTask[],
    private readonly log: Logger,
  ) {}

  /** Runs what is due, in order; what each said, or that it failed. */
  async tick(now = Date.now()): Promise<Record<string, unknown>> {
    const report: Record<string, unknown> = {};
    for (const task of this.tasks) {
      if (task.everyMs && now - (this.last.get(task.name) ?? -Infinity) < task.everyMs) continue;
      this.last.set(task.name, now);
      try {
        report[task.name] = await task.run();
      } catch (err) {
        this.log.warn({ err, task: task.name }, 'a clock task failed; it runs again at the next tick');
        report[task.name] = { failed: true };
      }
    }
    return report;
  }
}
