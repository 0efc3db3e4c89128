import type { ServerResponse } from 'node:http';
import type { DoormanError, DoormanErrorCode } from '@doorman/semaphore';

/** A rejection as an HTTP error: the shape Koa's, Express's and Fastify's error handlers read. */
export type HttpRejection = DoormanError & {
  status: number;
  statusCode: number;
  expose: true;
  headers: { 'Retry-After': string };
};

/** Turns a doorman rejection into an HTTP error in place and returns it. */
export function asHttpRejection(
  error: DoormanError,
  status: number,
  retryAfter: string,
): HttpRejection {
  const rejection = error as HttpRejection;
  rejection.status = status;
  rejection.statusCode = status;
  rejection.expose = true;
  rejection.headers = { 'Retry-After': retryAfter };
  return rejection;
}

function statusText(status: number): string {
  if (status === 503) return 'Service Unavailable';
  if (status === 429) return 'Too Many Requests';
  return 'Request Rejected';
}

/** The short plain-text body of a rejection, naming its code. */
export function rejectionBody(status: number, code: DoormanErrorCode): string {
  return `${statusText(status)} (${code})\n`;
}

/**
 * Writes a rejection with `writeHead` and `end`: nothing of a framework runs.
 * A response that has already started cannot change its status, so it is cut
 * off instead: the client sees a broken response rather than one left open.
 */
export function writeRejection(res: ServerResponse, rejection: HttpRejection): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = rejectionBody(rejection.status, rejection.code);
  res.writeHead(rejection.status, [
    'Retry-After',
    rejection.headers['Retry-After'],
    'Content-Type',
    'text/plain; charset=utf-8',
    'Content-Length',
    String(body.length),
    'Cache-Control',
    'no-store',
  ]);
  res.end(body);
}
