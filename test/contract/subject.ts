/**
 * What the adapter contract needs from a framework: a server built from
 * doorman options and a table of scripted routes. Each subject (Express 4
 * and 5, Koa 2 and 3, Fastify 4 and 5, the bare guard) translates the
 * scripts into its own idiom; the behaviours in this folder are written once.
 */
import type { Limiter } from '@doorman/semaphore';
import type { Stage } from '../kit/index.js';

/**
 * What a route's handler does. Every handler labels itself with the
 * request's `x-id` header when it enters a stage.
 *
 * - `respond`: answers at once (`status`, default 200; body `body`, default `ok`).
 * - `hold`: waits on `stage` (the test opens it), then answers like `respond`.
 * - `throw`: throws synchronously.
 * - `fail`: fails asynchronously (Express `next(err)`, a rejection elsewhere),
 *   after `stage` if given.
 * - `stream`: writes `first`, waits on `stage`, then ends with `last`; or, with
 *   `fails`, the body fails there instead (after the headers went out).
 */
export type Script =
  | { kind: 'respond'; status?: number; body?: string }
  | { kind: 'hold'; stage: Stage; status?: number; body?: string }
  | { kind: 'throw' }
  | { kind: 'fail'; stage?: Stage }
  | { kind: 'stream'; stage: Stage; fails?: boolean };

/** Path (GET) → script. */
export type Routes = Record<string, Script>;

/** The error message of a `throw` script, and of a `fail` script. */
export const THREW = 'the handler threw';
export const FAILED = 'the handler failed';
export const STREAM_FAILED = 'the body stream failed';

/** The doorman options the contract uses; every adapter takes them under these names. */
export interface ContractOptions {
  limit?: number;
  limiter?: Limiter;
  key?: (req: never) => string;
  totalLimit?: number;
  maxQueue?: number;
  queueTimeoutMs?: number;
  statusCode?: number;
  retryAfter?: number | ((error: { code: string }) => number);
  /** Always given as an `async` function that ignores its arguments (any adapter's signature). */
  onRejected?: (...args: never[]) => Promise<void>;
}

export interface Setup {
  routes: Routes;
  /** Mount the same middleware instance twice on the way to every route. */
  twice?: boolean;
  /**
   * A step before the limit (needs `hasUpstream`): a request with the header
   * `x-upstream: hold` waits there on this stage.
   */
  upstream?: Stage;
  /**
   * A step before the limit starts the response (needs `upstreamStartsResponse`):
   * a request with `x-upstream: start` gets its head and `started ` written there.
   */
  upstreamStarts?: boolean;
}

export interface Built {
  /** The middleware's own `.limiter`. */
  limiter: Limiter;
  port: number;
  /** Errors that reached the framework's error path (empty where it has none). */
  errors: unknown[];
  /** `x-id`s of the requests whose server-side response has closed, seen ahead of everything. */
  closed: Set<string>;
  close(): Promise<void>;
}

export interface Subject {
  name: string;
  /**
   * The adapter can see when the handler settles (Koa's downstream, Fastify's
   * handler, an Express handler under `limit.wrap`), so a permit is held until
   * the handler has settled and the response is done. Otherwise (Express
   * `app.use`, the guard) it is held until the response has finished or closed.
   */
  seesHandler: boolean;
  /**
   * Whether the adapter sees a body stream fail after the headers went out,
   * so it can release that work as `'dropped'`. Fastify sends a returned
   * stream itself and destroys the response on its error exactly as a client
   * leaving would look, so there it is `'ignored'`.
   */
  seesBodyFailure: boolean;
  /** Something can run before the limit (not so for the guard: it is the listener). */
  hasUpstream: boolean;
  /** A step before the limit can start the response (Express). */
  upstreamStartsResponse: boolean;
  build(options: ContractOptions, setup: Setup): Promise<Built>;
}
