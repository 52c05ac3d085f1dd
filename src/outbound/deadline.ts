// One timer for a whole outbound exchange (resolving, connecting, the answer's headers and body),
// not an idle timeout: a peer that sends a byte a second still ends at the deadline. When it
// passes, the signal aborts, and the work's abort listener destroys its socket.

export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
  constructor(readonly ms: number) {
    super(`no complete answer within ${ms} ms`);
  }
}

/** Runs `work`, rejecting with DeadlineExceeded (and aborting its signal) once `ms` have passed. */
export async function withinDeadline<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DeadlineExceeded(ms);
      controller.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls `onAbort` when the signal aborts, at once if it already has. */
export function onAbort(signal: AbortSignal, onAbort: () => void): void {
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
}
