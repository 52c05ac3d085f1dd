// One error type for every domain, with a code that maps to GraphQL extensions.code and an
// HTTP status in one place. Messages are written for the caller and never carry secrets. Pure:
// the GraphQL side (platform/graphql-errors.ts) and the HTTP doors (http/answer.ts) format it.

export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  // The REST doors' own: a gateway route or credential that cannot decide, a store that is down,
  // and a successor pickup that has nothing to hand out.
  GATEWAY_MISCONFIGURED: 'GATEWAY_MISCONFIGURED',
  UNAVAILABLE: 'UNAVAILABLE',
  IP_NOT_ALLOWED: 'IP_NOT_ALLOWED',
  NO_SUCCESSOR: 'NO_SUCCESSOR',
  SUCCESSOR_UNAVAILABLE: 'SUCCESSOR_UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  INTERNAL_SERVER_ERROR: 500,
  GATEWAY_MISCONFIGURED: 500,
  UNAVAILABLE: 503,
  IP_NOT_ALLOWED: 403,
  NO_SUCCESSOR: 409,
  SUCCESSOR_UNAVAILABLE: 409,
};

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.BAD_USER_INPUT, message, details);
export const notFound = (what: string, id: string) =>
  new DomainError(ErrorCode.NOT_FOUND, `${what} ${JSON.stringify(id)} was not found`, { id });
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.CONFLICT, message, details);
export const forbidden = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.FORBIDDEN, message, details);
export const unauthenticated = (message = 'a valid Latchkey token is required: Authorization: Bearer <token>') =>
  new DomainError(ErrorCode.UNAUTHENTICATED, message);

/** Seconds to wait that a refusal carries (rate limits), if any. */
export function retryAfterOf(e: unknown): number | undefined {
  const wait = e instanceof DomainError ? e.details.retryAfter : undefined;
  return typeof wait === 'number' ? wait : undefined;
}
