import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { KeyedSemaphore, Limiter, Semaphore } from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';
import { Door, FULL, GONE, PASS } from './door.js';
import { Gate } from './gate.js';
import { Hold } from './hold.js';
import type { GateOptions, KeyedLimitOptions, LimiterOptions, LimitOptions } from './options.js';
import { type HttpRejection, writeRejection } from './rejection.js';

/** Writes the response of a refused request instead of the default; may be async. */
export type GuardRejectedHandler = (
  error: HttpRejection,
  req: IncomingMessage,
  res: ServerResponse,
) => void | Promise<void>;

interface RejectionOption {
  /** Custom rejection response. A throw or a rejected promise answers 500. */
  onRejected?: GuardRejectedHandler;
}

export type GuardOptions<L extends Limiter = Limiter> = GateOptions<IncomingMessage, L> &
  RejectionOption;

type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** The guarded listener, carrying the limiter it admits through. */
export type GuardListener<L> = RequestListener & { readonly limiter: L };

/**
 * Puts the limit in front of any node:http request listener (an Express app,
 * `koa.callback()`, anything): a refused request is answered with `writeHead`
 * and `end` before any framework code runs, the cheapest rejection there is.
 * The guard cannot see when the listener's work is over, so an admitted
 * request holds its permit until its response has finished or closed, or its
 * request is gone with the socket.
 */
export function guard<L extends Limiter>(
  options: LimiterOptions<IncomingMessage, L> & RejectionOption,
  listener: Listener,
): GuardListener<L>;
export function guard(
  options: KeyedLimitOptions<IncomingMessage> & RejectionOption,
  listener: Listener,
): GuardListener<KeyedSemaphore>;
export function guard(
  options: LimitOptions<IncomingMessage> & RejectionOption,
  listener: Listener,
): GuardListener<Semaphore>;
export function guard(options: GuardOptions, listener: Listener): GuardListener<Limiter>;
export function guard(options: GuardOptions, listener: Listener): GuardListener<Limiter> {
  const door = new Door<IncomingMessage>(new Gate<IncomingMessage>(options, ['onRejected']));
  if (typeof listener !== 'function') {
    throw new TypeError(`Expected \`listener\` to be a function, got ${check.show(listener)}`);
  }
  const onRejected = check.optionalFunction<GuardRejectedHandler>('onRejected', options.onRejected);

  const failed = (res: ServerResponse, error: unknown): void => {
    process.emitWarning(
      `doorman guard answered 500: ${error instanceof Error ? error.message : String(error)}`,
      { code: 'DOORMAN_GUARD_ERROR' },
    );
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(500, ['Content-Type', 'text/plain; charset=utf-8', 'Cache-Control', 'no-store']);
    res.end('Internal Server Error\n');
  };

  const refuse = (rejection: HttpRejection, req: IncomingMessage, res: ServerResponse): void => {
    if (onRejected === undefined) {
      writeRejection(res, rejection);
      return;
    }
    try {
      const result = onRejected(rejection, req, res);
      if (result !== undefined && typeof result.then === 'function') {
        result.then(undefined, (error: unknown) => failed(res, error));
      }
    } catch (error) {
      failed(res, error);
    }
  };

  const guarded = function guarded(req: IncomingMessage, res: ServerResponse): void {
    let entry: ReturnType<typeof door.enter>;
    try {
      entry = door.enter(req, req, res, false);
    } catch (error) {
      failed(res, error);
      return;
    }
    if (entry === PASS || entry instanceof Hold) {
      listener(req, res);
      return;
    }
    if (entry === GONE) return;
    if (entry === FULL) {
      if (onRejected === undefined) door.refuseLineFull(res);
      else refuse(door.lineFull(), req, res);
      return;
    }
    entry.then(
      (waited) => {
        if (waited === GONE) return;
        if (waited instanceof Hold) {
          if (waited.ended) return;
          listener(req, res);
        } else refuse(waited, req, res);
      },
      (error: unknown) => failed(res, error),
    );
  };
  Object.defineProperty(guarded, 'limiter', { value: door.gate.limiter, enumerable: true });
  return guarded as GuardListener<Limiter>;
}
