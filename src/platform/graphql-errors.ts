// GraphQL's side of the domain errors: what a DomainError becomes in a GraphQL answer, and the
// formatter that maps whatever a resolver threw to a client-safe error with one of the contract's codes.
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { ArgumentValidationError, AuthenticationError, AuthorizationError } from 'type-graphql';
import { DomainError, ErrorCode, retryAfterOf } from './errors';

/** The GraphQL error a DomainError becomes, with the HTTP status (and Retry-After) Apollo should use. */
export function toGraphQLError(e: DomainError): GraphQLError {
  const wait = retryAfterOf(e);
  return new GraphQLError(e.message, {
    originalError: e,
    extensions: {
      code: e.code,
      ...e.details,
      http: { status: e.httpStatus, ...(wait ? { headers: new Map([['retry-after', String(wait)]]) } : {}) },
    },
  });
}

// Apollo's own request-level codes: all are a problem with what the client sent.
const CLIENT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * Maps whatever a resolver threw to a client-safe error carrying one of the contract's codes.
 * Anything unexpected is logged with the request id and answered without internals.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, log: Logger): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };
  if (original instanceof DomainError) {
    return { ...base, message: original.message, extensions: { code: original.code, ...original.details } };
  }
  if (original instanceof ArgumentValidationError) {
    // class-validator may throw instead of answering with a list (an object without a prototype).
    const errors = Array.isArray(original.extensions.validationErrors) ? original.extensions.validationErrors : [];
    const fields = errors.map((v) => ({
      field: v.property,
      problems: Object.values(v.constraints ?? {}),
    }));
    const message = fields.length
      ? `invalid input: ${fields.map((f) => f.problems.join(', ')).join('; ')}`
      : 'invalid input';
    return { ...base, message, extensions: { code: ErrorCode.BAD_USER_INPUT, fields } };
  }
  if (original instanceof AuthorizationError) return { ...base, extensions: { code: ErrorCode.FORBIDDEN } };
  if (original instanceof AuthenticationError) return { ...base, extensions: { code: ErrorCode.UNAUTHENTICATED } };
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && CLIENT_CODES.has(code)) {
    return { ...base, extensions: { code: ErrorCode.BAD_USER_INPUT, reason: code } };
  }
  // Apollo marks variables that fail coercion (a scalar's parseValue threw) as BAD_USER_INPUT.
  if (code === ErrorCode.BAD_USER_INPUT) return { ...base, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  // A GraphQL error that wraps nothing is about the document or its variables (graphql-ws passes
  // validation errors on without Apollo's codes): the client's to fix.
  if (error instanceof GraphQLError && !error.originalError)
    return { ...base, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  log.error({ err: original, path: formatted.path }, 'unexpected error in GraphQL operation');
  return {
    message: 'Internal server error',
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
