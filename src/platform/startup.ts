// Start-up against services that may not be answering yet (a container starting beside its
// database): retry with a bounded, logged backoff, then stop with a message naming the setting.
import type { Logger } from 'pino';

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/**
 * Runs `attempt` until it succeeds, waiting 250 ms, then twice as long each time (at most 5 s),
 * for at most `timeoutMs` in all. Every failure is one structured log line naming `setting`.
 */
export async function untilReachable(
  service: string,
  setting: string,
  attempt: () => Promise<unknown>,
  timeoutMs: number,
  log: Logger,
): Promise<void> {
  const started = Date.now();
  for (let n = 1, delay = 250; ; n++, delay = Math.min(delay * 2, 5_000)) {
    try {
      await attempt();
      if (n > 1) log.info({ service, setting, attempts: n }, `${service} is answering`);
      return;
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) {
        log.error({ service, setting, attempts: n, reason }, `${service} is not answering; check ${setting}`);
        throw new StartupError(
          `${service} is not answering at ${setting} (${reason}) after ${n} attempt(s) in ${Math.round((Date.now() - started) / 1000)} s`,
        );
      }
      const wait = Math.min(delay, left);
      log.warn({ service, setting, attempt: n, reason, retryInMs: wait }, `${service} is not answering yet; retrying`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
