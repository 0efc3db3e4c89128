import type { AcquireOptions, Limiter, LimiterCounters, WaitListener } from '@doorman/semaphore';
import { runWithPermit } from '@doorman/semaphore/internal';
import { SemaphoreCore } from './core.js';
import { parseOptions, type RedisSemaphoreOptions } from './options.js';
import type { RedisPermit } from './permit.js';

export type { RedisSemaphoreOptions } from './options.js';

/** The counters of a RedisSemaphore: the core's, plus what only a distributed limiter has. */
export interface RedisLimiterCounters extends LimiterCounters {
  /** Permits whose lease ran out before release: Redis stopped counting them. */
  leasesLost: number;
  /** Permits granted without Redis, under `failOpen`, while it was unreachable. */
  failOpen: number;
}

/**
 * A counting semaphore whose `limit` is shared by every process that uses the
 * same `key` on the same Redis. The state lives in Redis and changes only
 * through atomic Lua scripts; the waiting line is FIFO across all processes,
 * and a release grants the head of the line inside Redis and wakes its
 * process through pub/sub. Holders and waiters hold leases that their process
 * renews; a process that dies loses its permits after `leaseMs`.
 *
 * `inUse`, `waiting` and the counters are this process's own: `sum()` them in
 * your metrics to see the whole cluster.
 */
export class RedisSemaphore implements Limiter, AsyncDisposable {
  readonly name: string;
  readonly limit: number;
  /** The shared key in Redis (the hash tag of the Redis keys). */
  readonly key: string;
  readonly leaseMs: number;
  readonly failOpen: boolean;
  /** Local hand-offs a released permit may make in a row (0: strict FIFO across processes). */
  readonly localHandOff: number;
  readonly #core: SemaphoreCore;

  constructor(options: RedisSemaphoreOptions) {
    const settings = parseOptions(options);
    this.name = settings.name;
    this.limit = settings.limit;
    this.key = settings.key;
    this.leaseMs = settings.leaseMs;
    this.failOpen = settings.failOpen;
    this.localHandOff = settings.localHandOff;
    this.#core = new SemaphoreCore(settings);
  }

  /** Units held now by this process (lost and `failOpen` permits included, until released). */
  get inUse(): number {
    return this.#core.held;
  }

  /** Acquires of this process not settled yet: in the Redis line, or on their way to it. */
  get waiting(): number {
    return this.#core.waiters.size;
  }

  get isClosed(): boolean {
    return this.#core.closed;
  }

  get counters(): RedisLimiterCounters {
    const core = this.#core;
    return { ...core.counts.snapshot(), leasesLost: core.leasesLost, failOpen: core.failedOpen };
  }

  /**
   * Takes `weight` units of the shared limit, waiting in the shared FIFO line
   * if they are not free. Rejects with `QueueFullError`, `QueueTimeoutError`,
   * `LimiterClosedError`, `LimiterUnavailableError` (Redis unreachable, unless
   * `failOpen`), or the signal's reason when it aborts.
   */
  acquire(options?: AcquireOptions): Promise<RedisPermit> {
    return this.#core.acquire(options);
  }

  /**
   * Acquires, runs `fn`, and releases whatever `fn` does (as `'dropped'` when
   * it throws or rejects).
   */
  run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    return runWithPermit(this, fn, options);
  }

  /**
   * Stops admitting: this process's waiters and every later `acquire` reject
   * with `LimiterClosedError`, and the waiters leave the Redis line. Held
   * permits stay valid (and renewed) until released; `idle()` tells when the
   * last is back. Resolves once the waiters' removal has been sent to Redis.
   */
  close(reason?: unknown): Promise<void> {
    return this.#core.close(reason);
  }

  /** Resolves once this process holds nothing, waits for nothing, and has no command on its way. */
  idle(): Promise<void> {
    return this.#core.idle();
  }

  onWait(listener: WaitListener): () => void {
    return this.#core.waits.add(listener);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
