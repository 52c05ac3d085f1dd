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
