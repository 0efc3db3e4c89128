import type { Stream } from 'node:stream';
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
  rejectionBody,
} from '@doorman/http/internal';
import type { KeyedSemaphore, Limiter, Semaphore } from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';
import type { Context, Middleware, Next } from 'koa';

/**
 * Writes the response for a rejected request instead of the default
 * (`statusCode`, `Retry-After`, a short text body). The error carries
 * `status`, `expose` and `headers`: `throw error` hands it to your upstream
 * error handler (or to Koa's, which renders exactly those).
 */
export type RejectedHandler = (error: HttpRejection, ctx: Context) => void | Promise<void>;

interface RejectionOption {
  onRejected?: RejectedHandler;
}

/** The options: exactly one of `limit` (with `key` for a limit per key) and `limiter`. */
export type ConcurrencyLimitOptions<L extends Limiter = Limiter> = GateOptions<Context, L> &
  RejectionOption;

export type ConcurrencyLimitMiddleware<L = Limiter> = Middleware & {
  /** The limiter this middleware admits through: read its numbers, share it, close it, export its metrics. */
  readonly limiter: L;
};

/**
 * Admits at most `limit` concurrent requests (or as many as `limiter` allows);
 * queues the next ones up to `maxQueue` for at most `queueTimeoutMs`, and
 * rejects the rest with `statusCode` (503) and `Retry-After`.
 *
 * In Koa the work of a request is over when the downstream middleware has
 * settled and the response has finished or closed: a handler still busy for
 * a client that left keeps its permit (the backend is still doing the work),
 * and a streamed body holds it until the stream ends.
 */
export function concurrencyLimit<L extends Limiter>(
  options: LimiterOptions<Context, L> & RejectionOption,
): ConcurrencyLimitMiddleware<L>;
export function concurrencyLimit(
  options: KeyedLimitOptions<Context> & RejectionOption,
): ConcurrencyLimitMiddleware<KeyedSemaphore>;
export function concurrencyLimit(
  options: LimitOptions<Context> & RejectionOption,
): ConcurrencyLimitMiddleware<Semaphore>;
export function concurrencyLimit(
  options: ConcurrencyLimitOptions,
): ConcurrencyLimitMiddleware<Limiter>;
export function concurrencyLimit(
  options: ConcurrencyLimitOptions,
): ConcurrencyLimitMiddleware<Limiter> {
  const door = new Door<Context>(new Gate<Context>(options, ['onRejected']));
  const onRejected = check.optionalFunction<RejectedHandler>('onRejected', options.onRejected);

  // An async onRejected's rejection is returned to Koa, which hands it to ctx.onerror.
  const reject = (rejection: HttpRejection, ctx: Context): void | Promise<void> => {
    if (onRejected !== undefined) return onRejected(rejection, ctx);
    ctx.status = rejection.status;
    ctx.set('Retry-After', rejection.headers['Retry-After']);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/plain';
    ctx.body = rejectionBody(rejection.status, rejection.code);
  };

  const middleware = async function concurrencyLimit(ctx: Context, next: Next): Promise<void> {
    const entry = door.enter(ctx, ctx.req, ctx.res, true);
    if (entry === PASS) return next();
    if (entry === GONE) return;
    if (entry === FULL) return reject(door.lineFull(), ctx);
    let hold: Hold;
    if (entry instanceof Hold) hold = entry;
    else {
      const waited = await entry;
      if (waited === GONE) return;
      if (!(waited instanceof Hold)) return reject(waited, ctx);
      hold = waited;
      if (hold.ended) {
        hold.settled(false);
        return;
      }
    }
    let failed = false;
    try {
      await next();
    } catch (error) {
      failed = isFailure(error);
      throw error;
    } finally {
      watchBody(ctx, hold);
      hold.settled(failed);
    }
  };

  Object.defineProperty(middleware, 'limiter', { value: door.gate.limiter, enumerable: true });
  return middleware as ConcurrencyLimitMiddleware<Limiter>;
}

/**
 * A body stream that fails after the headers went out ends the work: Koa 2
 * leaves such a response open until the client leaves, and the permit must
 * not wait for that.
 */
function watchBody(ctx: Context, hold: Hold): void {
  const body = ctx.body as Partial<Stream> | null | undefined;
  if (hold.ended || body === null || typeof body !== 'object' || typeof body.once !== 'function') {
    return;
  }
  if (typeof body.pipe !== 'function') return;
  body.once('error', () => hold.fail());
}
