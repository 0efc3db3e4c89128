import type { RejectionReason } from './errors.js';

/**
 * How the work done under a permit ended, told at release: `'success'`
 * (the default), `'dropped'` (it failed or the server answered >= 500: a sign
 * of overload) or `'ignored'` (the client left first, so its time says
 * nothing). Limiters that learn from latency read it; the others ignore it.
 */
export type ReleaseOutcome = 'success' | 'dropped' | 'ignored';

/** A held share of a limiter. Give it back exactly once; later calls do nothing. */
export interface Permit extends Disposable {
  /** How many units of the limit this permit holds. */
  readonly weight: number;
  /** True once `release()` has run. */
  readonly released: boolean;
  /** Gives the permit back, saying how the work ended. Idempotent: a second call does nothing. */
  release(outcome?: ReleaseOutcome): void;
}

export interface AcquireOptions {
  /**
   * The key (tenant, API key, client address) to take the units for. Only
   * keyed limiters (`KeyedSemaphore`) take it, and they require it; any other
   * limiter rejects it as an unknown option.
   */
  key?: string;
  /** Units of the limit to take, an integer from 1 to `limit`. Default 1. */
  weight?: number;
  /** Aborting leaves the queue at once and rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Longest time to wait in the queue, in ms; overrides `queueTimeoutMs`. */
  timeoutMs?: number;
  /** Higher is served first; equal priorities follow `order`. Default 0. */
  priority?: number;
}

/** Cumulative counts since the limiter was made; they only grow. */
export interface LimiterCounters {
  /** Permits granted (immediately or after waiting). */
  acquired: number;
  /** Permits given back. `acquired - released` is what is held now. */
  released: number;
  /** Acquires refused, by reason. */
  rejected: Record<RejectionReason, number>;
}

/** Called at each admission with the time the acquirer waited, in ms (0 if it did not queue). */
export type WaitListener = (waitMs: number) => void;

/** The live numbers and counters of a limiter: what metrics read. */
export interface LimiterStats {
  /** Used as the `limiter` label in metrics. */
  readonly name: string;
  readonly limit: number;
  /** Units held now (by this process, for a distributed limiter). */
  readonly inUse: number;
  /** Acquirers queued now (in this process, for a distributed limiter). */
  readonly waiting: number;
  /** A snapshot of the cumulative counters. */
  readonly counters: LimiterCounters;
  /** Subscribes to wait times of admissions; returns the unsubscribe function. */
  onWait(listener: WaitListener): () => void;
}

/**
 * What the middleware and the metrics need from a limiter. `Semaphore` and
 * `RedisSemaphore` both implement it; so can anything shaped like it.
 */
export interface Limiter extends LimiterStats {
  acquire(options?: AcquireOptions): Promise<Permit>;
  /**
   * Optional synchronous fast path: a permit if one is free now and nobody
   * waits, else `undefined`. Adapters use it to admit without a promise.
   * `key` is for keyed limiters, as in `AcquireOptions`; others ignore it.
   */
  tryAcquire?(weight?: number, key?: string): Permit | undefined;
}
