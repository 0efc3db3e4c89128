import type {
  GateOptions,
  HttpRejection,
  KeyedLimitOptions,
  LimiterOptions,
  LimitOptions,
} from '@doorman/http';
import { Door, FULL, Gate, GONE, Hold, PASS } from '@doorman/http/internal';
import type { KeyedSemaphore, Limiter, Semaphore } from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { asError } from './as-error.js';
import { Refusal } from './refusal.js';
import { isThenable } from './thenable.js';
import { type RouteHandler, wrapper } from './wrap.js';

/**
 * Answers a rejected request instead of the default (`statusCode`,
 * `Retry-After`, a short text body). The error carries `statusCode`,
 * `expose` and `headers`: `throw error` hands it to Fastify's error handler,
 * which answers with exactly those. It may be async; whatever it throws or
 * rejects with goes to Fastify's error handler.
 */
export type RejectedHandler = (
  error: HttpRejection,
  request: FastifyRequest,
  reply: FastifyReply,
) => unknown;

interface RejectionOption {
  onRejected?: RejectedHandler;
}

/** The options: exactly one of `limit` (with `key` for a limit per key) and `limiter`. */
export type ConcurrencyLimitOptions<L extends Limiter = Limiter> = GateOptions<FastifyRequest, L> &
  RejectionOption;

/** The hook's own shape: a callback-style `onRequest` hook, valid app-wide and per route. */
export type OnRequestHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
) => void;

export type ConcurrencyLimitHook<L = Limiter> = OnRequestHook & {
  /** The limiter this hook admits through: read its numbers, share it, close it, export its metrics. */
  readonly limiter: L;
  /**
   * Runs `handler` under this limit and holds the permit until the handler
   * has settled and the response is done, so a client that gives up does not
   * free a slot its handler still fills. Behind this same hook (app-wide or
   * in the route's `onRequest`) it extends that request's hold instead of
   * taking a second permit.
   */
  wrap<H extends RouteHandler>(handler: H): H;
};

/**
 * Admits at most `limit` concurrent requests (or as many as `limiter` allows);
 * queues the next ones up to `maxQueue` for at most `queueTimeoutMs`, and
 * rejects the rest with `statusCode` (503) and `Retry-After`.
 *
 * No Fastify hook sees a handler settle after its client left (an async
 * handler's result is then dropped, and no hook runs), so the hook holds a
 * permit until the response has finished or closed (or its request is gone
 * with the socket); `limit.wrap(handler)` also waits for the handler.
 */
export function concurrencyLimit<L extends Limiter>(
  options: LimiterOptions<FastifyRequest, L> & RejectionOption,
): ConcurrencyLimitHook<L>;
export function concurrencyLimit(
  options: KeyedLimitOptions<FastifyRequest> & RejectionOption,
): ConcurrencyLimitHook<KeyedSemaphore>;
export function concurrencyLimit(
  options: LimitOptions<FastifyRequest> & RejectionOption,
): ConcurrencyLimitHook<Semaphore>;
export function concurrencyLimit(options: ConcurrencyLimitOptions): ConcurrencyLimitHook<Limiter>;
export function concurrencyLimit(options: ConcurrencyLimitOptions): ConcurrencyLimitHook<Limiter> {
  const door = new Door<FastifyRequest>(new Gate<FastifyRequest>(options, ['onRejected']));
  const onRejected = check.optionalFunction<RejectedHandler>('onRejected', options.onRejected);
  const refusal = new Refusal(door);

  /**
   * Answers a rejection: the default response, or `onRejected`, whose
   * throw or rejection goes to `failed` (Fastify's error path). Returns the
   * reply once it is answered, for a handler to return.
   */
  const reject = (
    rejection: HttpRejection,
    request: FastifyRequest,
    reply: FastifyReply,
    failed: (error: unknown) => void,
  ): unknown => {
    if (onRejected === undefined) return refusal.send(reply, rejection);
    let result: unknown;
    try {
      result = onRejected(rejection, request, reply);
    } catch (error) {
      failed(error);
      return undefined;
    }
    if (isThenable(result)) return Promise.resolve(result).then(undefined, failed);
    return result;
  };

  const refuseLineFull = (
    request: FastifyRequest,
    reply: FastifyReply,
    failed: (error: unknown) => void,
  ): unknown => {
    if (onRejected === undefined) return refusal.lineFull(reply);
    return reject(door.lineFull(), request, reply, failed);
  };

  const hook = function concurrencyLimit(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void {
    let entry: ReturnType<typeof door.enter>;
    try {
      entry = door.enter(request, request.raw, reply.raw, false);
    } catch (error) {
      done(asError(error));
      return;
    }
    if (entry === PASS || entry instanceof Hold) {
      done();
      return;
    }
    if (entry === GONE) return;
    if (entry === FULL && onRejected === undefined) {
      refusal.lineFull(reply);
      return;
    }
    // Only a refused or queued request gets here: the hot path allocates nothing.
    const failed = (error: unknown): void => done(asError(error));
    if (entry === FULL) {
      reject(door.lineFull(), request, reply, failed);
      return;
    }
    entry.then((waited) => {
      if (waited === GONE) return;
      if (!(waited instanceof Hold)) reject(waited, request, reply, failed);
      else if (!waited.ended) done();
    }, failed);
  };

  const wrap = wrapper(door, reject, refuseLineFull);
  Object.defineProperty(hook, 'limiter', { value: door.gate.limiter, enumerable: true });
  Object.defineProperty(hook, 'wrap', { value: wrap, enumerable: true });
  return hook as unknown as ConcurrencyLimitHook<Limiter>;
}
