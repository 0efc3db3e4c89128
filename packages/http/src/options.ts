import type { DoormanError, Limiter, QueueOrder } from '@doorman/semaphore';

/**
 * The options both middleware adapters accept. `Req` is what the functions
 * receive: Express's `req`, Koa's `ctx`.
 */
export interface GateOptions<Req> {
  /** Build a `Semaphore` with this limit. Exactly one of `limit` and `limiter`. */
  limit?: number;
  /** Use this limiter (a `Semaphore`, a `RedisSemaphore`, anything shaped as a `Limiter`). */
  limiter?: Limiter;
  /** Most requests waiting; more are rejected (`QUEUE_FULL`). Default 100. With `limit` only. */
  maxQueue?: number;
  /** Longest wait in the queue, in ms (`QUEUE_TIMEOUT`). Default 5000. With `limit` only. */
  queueTimeoutMs?: number;
  /** `'fifo'` (default) or `'lifo'`. With `limit` only. */
  order?: QueueOrder;
  /** Units each request takes: a number, or a function of the request. Default 1. */
  weight?: number | ((req: Req) => number);
  /** Higher is admitted first. Default 0 for all. */
  priority?: (req: Req) => number;
  /** A separate limit per key (tenant, API key, IP). With `limit` only. */
  key?: (req: Req) => string;
  /** Return true to let a request through without a permit (health checks, /metrics). */
  skip?: (req: Req) => boolean;
  /** Status of rejections, 400 to 599. Default 503. */
  statusCode?: number;
  /** Seconds for `Retry-After` on rejections, or a function of the error. Default 1. */
  retryAfter?: number | ((error: DoormanError) => number);
  /** The `limiter` label in metrics. Default `'http'`. With `limit` only. */
  name?: string;
}

/** The documented defaults of the middleware: a bounded queue with a timeout. */
export const gateDefaults = Object.freeze({
  maxQueue: 100,
  queueTimeoutMs: 5000,
  statusCode: 503,
  retryAfter: 1,
  name: 'http',
});
