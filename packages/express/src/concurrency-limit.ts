import type { HttpRejection } from '@doorman/http';
import { Gate, type GateOptions } from '@doorman/http/internal';
import type { DoormanError, KeyedSemaphore, Limiter, Permit } from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export interface ConcurrencyLimitOptions extends GateOptions<Request> {
  /**
   * Writes the response for a rejected request instead of the default
   * (`statusCode`, `Retry-After`, a short text body). The error carries
   * `status`, `expose` and `headers`; `next(err)` hands it to your error handler.
   */
  onRejected?: (error: HttpRejection, req: Request, res: Response, next: NextFunction) => void;
}

export type ConcurrencyLimitMiddleware = RequestHandler & {
  /** The limiter this middleware admits through: read its numbers, share it, export its metrics. */
  readonly limiter: Limiter | KeyedSemaphore;
};

type HoldingResponse = Response & { [slot: symbol]: Permit | undefined };

/**
 * Admits at most `limit` concurrent requests (or as many as `limiter` allows);
 * queues the next ones up to `maxQueue` for at most `queueTimeoutMs`, and
 * rejects the rest with `statusCode` (503) and `Retry-After`.
 *
 * Express tells middleware nothing when a handler is done, so a permit is held
 * until the response has finished or the connection has closed, whichever
 * comes first: a streamed body counts until it ends, and a client that goes
 * away frees its permit. Both are the response's `close` event, which Node
 * emits exactly once per response in every case.
 */
export function concurrencyLimit(options: ConcurrencyLimitOptions): ConcurrencyLimitMiddleware {
  const gate = new Gate<Request>(options, ['onRejected']);
  // The permit of an admitted request rides on its response under this
  // middleware's own slot (a request may pass several limits), so one listener
  // per middleware releases it: no closure per request.
  const permitSlot = Symbol('doorman.permit');
  function releaseOnClose(this: HoldingResponse): void {
    this[permitSlot]?.release();
  }
  const onRejected = check.optionalFunction<NonNullable<ConcurrencyLimitOptions['onRejected']>>(
    'onRejected',
    options.onRejected,
  );

  const reject = (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    const rejection = gate.httpRejection(error);
    if (rejection === undefined) {
      next(error);
      return;
    }
    if (onRejected !== undefined) {
      onRejected(rejection, req, res, next);
      return;
    }
    if (res.headersSent) return;
    res.statusCode = rejection.status;
    res.setHeader('Retry-After', rejection.headers['Retry-After']);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(gate.bodyOf(rejection));
  };

  const middleware = function concurrencyLimit(
    req: Request,
    res: Response,
    next: NextFunction,
  ): void {
    let key: string | undefined;
    let weight: number;
    let permit: Permit | undefined;
    // The client left before we were reached (during a slow step upstream):
    // its response has closed already and will not say so again.
    if (res.closed || res.destroyed) return;
    try {
      if (gate.skips(req)) {
        next();
        return;
      }
      key = gate.keyOf(req);
      weight = gate.weightOf(req);
      permit = gate.tryAcquire(key, weight);
    } catch (error) {
      next(error);
      return;
    }
    if (permit !== undefined) {
      (res as HoldingResponse)[permitSlot] = permit;
      res.on('close', releaseOnClose);
      next();
      return;
    }
    queue(req, res, next, key, weight);
  };

  // The slow path: wait in line. The close listener goes on before anything
  // is awaited, so a client that leaves while queued is never missed: it
  // aborts the wait, and its handler never runs.
  const queue = (
    req: Request,
    res: Response,
    next: NextFunction,
    key: string | undefined,
    weight: number,
  ): void => {
    const controller = new AbortController();
    let held: Permit | undefined;
    let closed = false;
    let refused = false;
    res.on('close', () => {
      closed = true;
      if (held !== undefined) held.release();
      // Aborting builds a DOMException and dispatches an event: only worth it while still waiting.
      else if (!refused) controller.abort();
    });
    gate.acquire(req, key, weight, controller.signal).then(
      (permit) => {
        held = permit;
        // Admitted in the same tick as the client left: give the permit back at once.
        if (closed) {
          permit.release();
          return;
        }
        next();
      },
      (error: unknown) => {
        refused = true;
        if (closed) return; // the client is gone; the limiter counted it as aborted
        try {
          reject(error, req, res, next);
        } catch (failure) {
          next(failure);
        }
      },
    );
  };

  Object.defineProperty(middleware, 'limiter', { value: gate.limiter, enumerable: true });
  return middleware as ConcurrencyLimitMiddleware;
}

export type { DoormanError, HttpRejection };
