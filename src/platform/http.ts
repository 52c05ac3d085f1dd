// HTTP plumbing shared by the REST routes: request ids, JSON errors, authentication.
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { DomainError, ErrorCode } from './errors';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Takes the caller's X-Request-Id when it is sane, else makes one; echoes it back. */
export function requestId(log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.header('x-request-id');
    req.id = given && REQUEST_ID.test(given) ? given : randomUUID();
    req.log = log.child({ requestId: req.id });
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}

export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** The last error handler: typed errors become their status, anything else a logged 500. */
export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  if (res.headersSent) return;
  if (err instanceof DomainError) return sendError(res, err.httpStatus, err.code, err.message);
  const e = err as { status?: number; type?: string; expose?: boolean; message?: string };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const message = e.type === 'entity.too.large' ? 'the request body is larger than 1 MiB' : e.expose ? e.message! : 'bad request';
    return sendError(res, e.status, ErrorCode.BAD_USER_INPUT, message);
  }
  req.log.error({ err }, 'unexpected error in HTTP request');
  sendError(res, 500, ErrorCode.INTERNAL_SERVER_ERROR, 'internal server error');
}
