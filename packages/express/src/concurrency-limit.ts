import type {
  GateOptions,
  HttpRejection,
  KeyedLimitOptions,
  LimiterOptions,
  LimitOptions,
} from '@doorman/http';
import {
  Door,
  FULL,
  Gate,
  GONE,
  Hold,
  isFailure,
  PASS,
  writeRejection,
} from '@doorman/http/internal';
import type { KeyedSemaphore, Limiter, Semaphore } from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Writes the response for a rejected request instead of the default
 * (`statusCode`, `Retry-After`, a short text body). The error carries
 * `status`, `expose` and `headers`; `next(err)` hands it to your error
 * handler. It may be async: a rejected promise goes to `next(err)`.
 */
export type RejectedHandler = (
  error: HttpRejection,
  req: Request,
  res: Response,
  next: NextFunction,
) => void | Promise<void>;

interface RejectionOption {
  onRejected?: RejectedHandler;
}

/** The options: exactly one of `limit` (with `key` for a limit per key) and `limiter`. */
export type ConcurrencyLimitOptions<L extends Limiter = Limiter> = GateOptions<Request, L> &
  RejectionOption;

/** A handler `wrap` accepts: Express's own shape, sync or async. */
export type WrappableHandler = (req: Request, res: Response, next: NextFunction) => unknown;

export type ConcurrencyLimitMiddleware<L = Limiter> = RequestHandler & {
  /** The limiter this middleware admits through: read its numbers, share it, close it, export its metrics. */
  readonly limiter: L;
  /**
   * Runs `handler` under this limit and holds the permit until the handler
   * has settled and the response is done, so a client that gives up does not
   * free a slot its handler still fills. Behind `app.use(limit)` on the same
   * middleware it extends that request's hold instead of taking a second permit.
   */
  wrap(handler: WrappableHandler): RequestHandler;
};

/**
 * Admits at most `limit` concurrent requests (or as many as `limiter` allows);
 * queues the next ones up to `maxQueue` for at most `queueTimeoutMs`, and
 * rejects the rest with `statusCode` (503) and `Retry-After`.
 *
 * Express tells middleware nothing when a handler is done, so with
 * `app.use(limit)` a permit is held until the response has finished or
 * closed (or its request is gone with the socket); `limit.wrap(handler)` also
 * waits for the handler to settle.
 */
export function concurrencyLimit<L extends Limiter>(
  options: LimiterOptions<Request, L> & RejectionOption,
): ConcurrencyLimitMiddleware<L>;
export function concurrencyLimit(
  options: KeyedLimitOptions<Request> & RejectionOption,
): ConcurrencyLimitMiddleware<KeyedSemaphore>;
export function concurrencyLimit(
  options: LimitOptions<Request> & RejectionOption,
): ConcurrencyLimitMiddleware<Semaphore>;
export function concurrencyLimit(
  options: ConcurrencyLimitOptions,
): ConcurrencyLimitMiddleware<Limiter>;
export function concurrencyLimit(
  options: ConcurrencyLimitOptions,
): ConcurrencyLimitMiddleware<Limiter> {
  const door = new Door<Request>(new Gate<Request>(options, ['onRejected']));
  const onRejected = check.optionalFunction<RejectedHandler>('onRejected', options.onRejected);

  const reject = (
    rejection: HttpRejection,
    req: Request,
    res: Response,
    next: NextFunction,
  ): void => {
    if (onRejected === undefined) {
      writeRejection(res, rejection);
      return;
    }
    try {
      const result = onRejected(rejection, req, res, next);
      if (result !== undefined && typeof result.then === 'function') result.then(undefined, next);
    } catch (error) {
      next(error);
    }
  };

  const refuseLineFull = (req: Request, res: Response, next: NextFunction): void => {
    if (onRejected === undefined) door.refuseLineFull(res);
    else reject(door.lineFull(), req, res, next);
  };

  const middleware = function concurrencyLimit(
    req: Request,
    res: Response,
    next: NextFunction,
  ): void {
    let entry: ReturnType<typeof door.enter>;
    try {
      entry = door.enter(req, req, res, false);
    } catch (error) {
      next(error);
      return;
    }
    if (entry === PASS || entry instanceof Hold) {
      next();
      return;
    }
    if (entry === GONE) return;
    if (entry === FULL) {
      refuseLineFull(req, res, next);
      return;
    }
    entry.then((waited) => {
      if (waited === GONE) return;
      if (!(waited instanceof Hold)) reject(waited, req, res, next);
      else if (!waited.ended) next();
    }, next);
  };

  const wrap = (handler: WrappableHandler): RequestHandler => {
    if (typeof handler !== 'function') {
      throw new TypeError(`Expected \`handler\` to be a function, got ${check.show(handler)}`);
    }
    return function wrapped(req: Request, res: Response, next: NextFunction): void {
      const held = door.holdOf(req);
      if (held !== undefined) {
        // Through this limit already (app.use): extend that hold, unless it is over.
        if (held.permit === undefined || held.ended) return;
        held.running++;
        run(handler, held, req, res, next);
        return;
      }
      let entry: ReturnType<typeof door.enter>;
      try {
        entry = door.enter(req, req, res, true);
      } catch (error) {
        next(error);
        return;
      }
      if (entry instanceof Hold) run(handler, entry, req, res, next);
      else if (entry === PASS) runUnheld(handler, req, res, next);
      else if (entry === FULL) refuseLineFull(req, res, next);
      else if (entry !== GONE) {
        entry.then((waited) => {
          if (waited === GONE) return;
          if (!(waited instanceof Hold)) reject(waited, req, res, next);
          else if (waited.ended) waited.settled(false);
          else run(handler, waited, req, res, next);
        }, next);
      }
    };
  };

  Object.defineProperty(middleware, 'limiter', { value: door.gate.limiter, enumerable: true });
  Object.defineProperty(middleware, 'wrap', { value: wrap, enumerable: true });
  return middleware as unknown as ConcurrencyLimitMiddleware<Limiter>;
}

/** Runs a wrapped handler whose hold counts it as running; settles the hold when it is done. */
function run(
  handler: WrappableHandler,
  hold: Hold,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  let result: unknown;
  try {
    result = handler(req, res, next);
  } catch (error) {
    hold.settled(isFailure(error));
    next(error);
    return;
  }
  if (isThenable(result)) {
    result.then(
      () => hold.settled(false),
      (error: unknown) => {
        hold.settled(isFailure(error));
        next(error);
      },
    );
  } else hold.settled(false);
}

/** A skipped request still gets its handler's errors passed on. */
function runUnheld(
  handler: WrappableHandler,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  let result: unknown;
  try {
    result = handler(req, res, next);
  } catch (error) {
    next(error);
    return;
  }
  if (isThenable(result)) result.then(undefined, next);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
