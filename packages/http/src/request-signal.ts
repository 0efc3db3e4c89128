import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { check } from '@doorman/semaphore/internal';
import { clientGone, socketDead, waitsForSocket, watchSocket } from './client-gone.js';

const slot = Symbol('doorman.requestSignal');
type Signalled = IncomingMessage & { [slot]?: AbortController };

function abortUnlessFinished(res: ServerResponse): void {
  const controller = (res.req as Signalled)[slot];
  if (controller !== undefined && !res.writableFinished) controller.abort();
}

function onResponseClose(this: ServerResponse): void {
  abortUnlessFinished(this);
}

/**
 * An `AbortSignal` that aborts when this request's client goes away before
 * its response is done: give it to the upstream calls a handler makes
 * (`fetch(url, { signal })`), so the backend stops working for nobody. It
 * sees every way a client leaves, also a pipelined request whose connection
 * dies before its response got the socket. Calling it again for the same
 * request returns the same signal.
 *
 * `res` is needed where the request does not carry its response: Express's
 * `req` does (`req.res`); with Koa pass `ctx.res`, with Fastify `reply.raw`.
 */
export function requestSignal(req: IncomingMessage, res?: ServerResponse): AbortSignal {
  const known = (req as Signalled)[slot];
  if (known !== undefined) return known.signal;
  const response = res ?? (req as { res?: ServerResponse }).res;
  if (
    typeof req !== 'object' ||
    req === null ||
    typeof (req as IncomingMessage).on !== 'function' ||
    typeof response !== 'object' ||
    response === null ||
    typeof response.on !== 'function'
  ) {
    throw new TypeError(
      `Expected \`requestSignal(req, res)\` to get a node:http request and its response (Express's \`req\` carries it; with Koa pass \`ctx.req, ctx.res\`), got ${check.show(response === undefined ? req : response)}`,
    );
  }
  const controller = new AbortController();
  (req as Signalled)[slot] = controller;
  if (response.writableFinished) return controller.signal;
  if (clientGone(req, response)) {
    controller.abort();
    return controller.signal;
  }
  response.on('close', onResponseClose);
  req.on('close', function onRequestClose(this: IncomingMessage) {
    if (controller.signal.aborted || response.writableFinished) return;
    if (socketDead(this)) controller.abort();
    else if (waitsForSocket(response)) {
      watchSocket(this.socket as Socket, response, () => abortUnlessFinished(response));
    }
  });
  return controller.signal;
}
