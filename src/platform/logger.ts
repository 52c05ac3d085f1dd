// Structured JSON logs. Secrets never reach here by construction (no code path passes one);
// the redaction list is a second line of defence for headers that carry credentials.
import pino, { type Logger } from 'pino';

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers["x-latchkey-gateway-key"]',
        'req.headers.cookie',
        '*.secret',
        '*.token',
      ],
      censor: '[redacted]',
    },
  });
}

/**
 * For a warning that a failing dependency would otherwise repeat on every request: true at most
 * once per `ms`.
 */
export function throttled(ms = 10_000): () => boolean {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last < ms) return false;
    last = now;
    return true;
  };
}
