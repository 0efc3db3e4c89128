import type { HttpRejection } from '@doorman/http';
import { type Door, FULL, GONE, Hold, isFailure, PASS } from '@doorman/http/internal';
import { check } from '@doorman/semaphore/internal';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { asError } from './as-error.js';
import { isThenable } from './thenable.js';

/** Any Fastify route handler, sync or async, whatever its route's types. */
export type RouteHandler = (this: never, request: never, reply: never) => unknown;

type Handler = (this: unknown, request: FastifyRequest, reply: FastifyReply) => unknown;

type Answer = (
  rejection: HttpRejection,
  request: FastifyRequest,
  reply: FastifyReply,
  failed: (error: unknown) => void,
) => unknown;

type AnswerLineFull = (
  request: FastifyRequest,
  reply: FastifyReply,
  failed: (error: unknown) => void,
) => unknown;

/** In a handler, Fastify's error path is a throw (or the returned promise rejecting). */
function rethrow(error: unknown): never {
  throw asError(error);
}

/** `limit.wrap`: runs route handlers under the door, holding until they settle. */
export function wrapper(
  door: Door<FastifyRequest>,
  reject: Answer,
  refuseLineFull: AnswerLineFull,
): <H extends RouteHandler>(handler: H) => H {
  return function wrap<H extends RouteHandler>(handler: H): H {
    if (typeof handler !== 'function') {
      throw new TypeError(`Expected \`handler\` to be a function, got ${check.show(handler)}`);
    }
    const fn = handler as unknown as Handler;
    return function wrapped(this: unknown, request: FastifyRequest, reply: FastifyReply): unknown {
      const held = door.holdOf(request.raw);
      if (held !== undefined) {
        // Through this limit's hook already: extend that hold, unless the client left meanwhile.
        if (held.permit === undefined || held.ended) return undefined;
        held.running++;
        return run(fn, this, held, request, reply);
      }
      // A throw here (skip, key, weight) goes down Fastify's error path.
      const entry = door.enter(request, request.raw, reply.raw, true);
      if (entry instanceof Hold) return run(fn, this, entry, request, reply);
      if (entry === PASS) return fn.call(this, request, reply);
      if (entry === GONE) return undefined;
      if (entry === FULL) return refuseLineFull(request, reply, rethrow);
      return entry.then((waited) => {
        if (waited === GONE) return undefined;
        if (!(waited instanceof Hold)) return reject(waited, request, reply, rethrow);
        if (waited.ended) {
          waited.settled(false);
          return undefined;
        }
        return run(fn, this, waited, request, reply);
      });
    } as unknown as H;
  };
}

/** Runs a handler whose hold counts it as running; settles the hold when it is done. */
function run(
  fn: Handler,
  self: unknown,
  hold: Hold,
  request: FastifyRequest,
  reply: FastifyReply,
): unknown {
  let result: unknown;
  try {
    result = fn.call(self, request, reply);
  } catch (error) {
    hold.settled(isFailure(error));
    throw error;
  }
  // A reply is a thenable too, but returning it means "answered": the handler is done.
  if (result === reply || !isThenable(result)) {
    hold.settled(false);
    return result;
  }
  return Promise.resolve(result).then(
    (value) => {
      hold.settled(false);
      return value;
    },
    (error: unknown) => {
      hold.settled(isFailure(error));
      throw error;
    },
  );
}
