import type { DoormanError, Limiter, QueueOrder } from '@doorman/semaphore';

/** What every form of the options takes. `Req` is what the functions receive: Express's `req`, Koa's `ctx`. */
export interface CommonOptions<Req> {
  /**
   * Most requests of this middleware waiting at once; more are rejected at
   * once (`QUEUE_FULL`). Default 100. With `limiter`, it bounds this
   * middleware's own line, whatever the limiter's.
   */
  maxQueue?: number;
  /** Longest wait in line, in ms (`QUEUE_TIMEOUT`). Default 5000. With `limiter`, given to each acquire. */
  queueTimeoutMs?: number;
  /** Units each request takes: a number, or a function of the request. Default 1. */
  weight?: number | ((req: Req) => number);
  /** Higher is admitted first. Default 0 for all. */
  priority?: (req: Req) => number;
  /** Return true to let a request through without a permit (health checks, /metrics). */
  skip?: (req: Req) => boolean;
  /** Status of rejections, 400 to 599. Default 503. */
  statusCode?: number;
  /** Seconds for `Retry-After` on rejections, or a function of the error. Default 1. */
  retryAfter?: number | ((error: DoormanError) => number);
}

/** Build a `Semaphore` with this limit. */
export interface LimitOptions<Req> extends CommonOptions<Req> {
  limit: number;
  limiter?: never;
  /** `'fifo'` (default) or `'lifo'`. */
  order?: QueueOrder;
  /** The `limiter` label in metrics. Default `'http'`. */
  name?: string;
  key?: undefined;
  totalLimit?: undefined;
}

/** Build a `KeyedSemaphore`: a separate limit of `limit` per key (tenant, API key, IP). */
export interface KeyedLimitOptions<Req> extends CommonOptions<Req> {
  limit: number;
  limiter?: never;
  order?: QueueOrder;
  name?: string;
  /** The key of a request; idle keys are dropped, so memory follows the keys in use. */
  key: (req: Req) => string;
  /**
   * Most requests all keys together may hold at once, shared by the keys in
   * turn. What keeps a client that rotates keys from raising the total.
   */
  totalLimit?: number;
}

/** Use a given limiter (a `Semaphore`, a `RedisSemaphore`, anything shaped as a `Limiter`). */
export interface LimiterOptions<Req, L extends Limiter = Limiter> extends CommonOptions<Req> {
  limiter: L;
  limit?: never;
  order?: never;
  name?: never;
  /** With a keyed limiter (a `KeyedSemaphore` shared by several middlewares), and only then: the key of a request. */
  key?: (req: Req) => string;
  totalLimit?: never;
}

/** The options of every doorman HTTP middleware: exactly one of `limit` and `limiter`. */
export type GateOptions<Req, L extends Limiter = Limiter> =
  | LimitOptions<Req>
  | KeyedLimitOptions<Req>
  | LimiterOptions<Req, L>;

/** The documented defaults of the middleware: a bounded line with a timeout. */
export const gateDefaults = Object.freeze({
  maxQueue: 100,
  queueTimeoutMs: 5000,
  statusCode: 503,
  retryAfter: 1,
  name: 'http',
});
