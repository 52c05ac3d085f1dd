// Express's side of the HTTP doors: a request id on every request (and in its log lines), and the
// last error handler, which answers through the same writer as the doors served before Express.
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { DomainError, ErrorCode } from '../platform/errors';
import { requestIdOf, sendError } from './answer';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
  }
}

/** Takes the caller's X-Request-Id when it is sane, else makes one; echoes it back. */
export function requestId(log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    req.id = requestIdOf(req);
    req.log = log.child({ requestId: req.id });
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}

/** The last error handler: typed errors become their answer, a malformed request its 4xx (BAD_USER_INPUT), anything else a logged 500. */
export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  if (res.headersSent) return;
  if (err instanceof DomainError) return sendError(res, err, req.id);
  const e = err as { status?: number; type?: string; expose?: boolean; message?: string };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const message =
      e.type === 'entity.too.large' ? 'the request body is larger than 1 MiB' : e.expose ? e.message! : 'bad request';
    return sendError(res, new DomainError(ErrorCode.BAD_USER_INPUT, message), req.id, {}, e.status);
  }
  req.log.error({ err }, 'unexpected error in HTTP request');
  sendError(res, new DomainError(ErrorCode.INTERNAL_SERVER_ERROR, 'internal server error'), req.id);
}
