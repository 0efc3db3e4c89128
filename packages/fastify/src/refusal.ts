import type { HttpRejection } from '@doorman/http';
import { type Door, rejectionBody } from '@doorman/http/internal';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The default answer to a refused request: `statusCode`, `Retry-After`,
 * `Cache-Control: no-store` and a short text body, written with Fastify's
 * own reply, so the headers earlier hooks set (CORS, request ids), the
 * `onSend` hooks and the request log still apply. Made once per hook: a
 * refusal of a full line builds no error and no string.
 */
export class Refusal {
  private readonly door: Door<FastifyRequest>;
  private readonly status: number;
  private readonly fullBody: string;
  private readonly fixedRetryAfter: string | undefined;

  constructor(door: Door<FastifyRequest>) {
    this.door = door;
    this.status = door.gate.statusCode;
    this.fullBody = rejectionBody(this.status, 'QUEUE_FULL');
    this.fixedRetryAfter = door.gate.fixedRetryAfter;
  }

  /** Refuses a request that found this middleware's line full (counted). */
  lineFull(reply: FastifyReply): FastifyReply {
    if (this.fixedRetryAfter === undefined) return this.send(reply, this.door.lineFull());
    this.door.gate.countLineFull();
    return write(reply, this.status, this.fixedRetryAfter, this.fullBody);
  }

  /** Sends the default answer for a rejection. */
  send(reply: FastifyReply, rejection: HttpRejection): FastifyReply {
    return write(
      reply,
      rejection.status,
      rejection.headers['Retry-After'],
      rejectionBody(rejection.status, rejection.code),
    );
  }
}

function write(
  reply: FastifyReply,
  status: number,
  retryAfter: string,
  body: string,
): FastifyReply {
  return reply
    .code(status)
    .header('retry-after', retryAfter)
    .header('cache-control', 'no-store')
    .header('content-type', 'text/plain; charset=utf-8')
    .send(body);
}
