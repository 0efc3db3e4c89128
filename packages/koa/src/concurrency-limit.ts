import type { ServerResponse } from 'node:http';
import type { HttpRejection } from '@doorman/http';
import { Gate, type GateOptions } from '@doorman/http/internal';
import type { DoormanError, KeyedSemaphore, Limiter, Permit } from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';
import type { Context, Middleware, Next } from 'koa';

export interface ConcurrencyLimitOptions extends GateOptions<Context> {
  /**
   * Writes the response for a rejected request instead of the default
   * (`statusCode`, `Retry-After`, a short text body). The error carries
   * `status`, `expose` and `headers`: `throw error` hands it to your upstream
   * error handler (or to Koa's, which renders exactly those).
   */
  onRejected?: (error: HttpRejection, ctx: Context) => void | Promise<void>;
}

export type ConcurrencyLimitMiddleware = Middleware & {
  /** The limiter this middleware admits through: read its numbers, share it, export its metrics. */
  readonly limiter: Limiter | KeyedSemaphore;
};

/**
 * When the work of one admitted request is over. In Koa that takes two
 * things: the downstream middleware has settled, and the response has
 * finished or its connection closed. A handler still busy for a client that
 * left keeps its permit (the backend is still doing the work), and a streamed
 * body holds it until the stream ends. Whichever comes second releases.
 */
class Hold {
  permit: Permit | undefined = undefined;
  settled = false;
  closed = false;
  controller: AbortController | undefined = undefined;

  responseClosed(): void {
    this.closed = true;
    if (this.permit === undefined) this.controller?.abort();
    else if (this.settled) this.permit.release();
  }

  downstreamSettled(): void {
    this.settled = true;
    if (this.closed) this.permit?.release();
  }
}

type HoldingResponse = ServerResponse & { [slot: symbol]: Hold | undefined };

/**
 * Admits at most `limit` concurrent requests (or as many as `limiter` allows);
 * queues the next ones up to `maxQueue` for at most `queueTimeoutMs`, and
 * rejects the rest with `statusCode` (503) and `Retry-After`.
 */
export function concurrencyLimit(options: ConcurrencyLimitOptions): ConcurrencyLimitMiddleware {
  const gate = new Gate<Context>(options, ['onRejected']);
  // The hold rides on the response under this middleware's own slot (a request
  // may pass several limits), so one listener per middleware serves every request.
  const holdSlot = Symbol('doorman.hold');
  function onResponseClose(this: HoldingResponse): void {
    this[holdSlot]?.responseClosed();
  }
  const onRejected = check.optionalFunction<NonNullable<ConcurrencyLimitOptions['onRejected']>>(
    'onRejected',
    options.onRejected,
  );

  const reject = async (error: unknown, ctx: Context): Promise<void> => {
    const rejection = gate.httpRejection(error);
    if (rejection === undefined) throw error;
    if (onRejected !== undefined) return onRejected(rejection, ctx);
    ctx.status = rejection.status;
    ctx.set('Retry-After', rejection.headers['Retry-After']);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/plain';
    ctx.body = gate.bodyOf(rejection);
  };

  const middleware = async function concurrencyLimit(ctx: Context, next: Next): Promise<void> {
    if (gate.skips(ctx)) return next();
    // The client left before we were reached (during a slow step upstream):
    // there is no one to do the work for, and its close event is past.
    if (ctx.res.closed || ctx.res.destroyed) return;
    const key = gate.keyOf(ctx);
    const weight = gate.weightOf(ctx);
    const hold = new Hold();
    // Before the first await, so a client leaving while queued is never missed.
    (ctx.res as HoldingResponse)[holdSlot] = hold;
    ctx.res.on('close', onResponseClose);
    hold.permit = gate.tryAcquire(key, weight);
    if (hold.permit === undefined) {
      hold.controller = new AbortController();
      try {
        hold.permit = await gate.acquire(ctx, key, weight, hold.controller.signal);
      } catch (error) {
        if (hold.closed) return; // the client left while queued; counted as aborted
        return reject(error, ctx);
      }
      if (hold.closed) {
        // Admitted in the same tick as the client left: nothing to do the work for.
        hold.permit.release();
        return;
      }
    }
    try {
      await next();
    } finally {
      hold.downstreamSettled();
    }
  };

  Object.defineProperty(middleware, 'limiter', { value: gate.limiter, enumerable: true });
  return middleware as ConcurrencyLimitMiddleware;
}

export type { DoormanError, HttpRejection };
