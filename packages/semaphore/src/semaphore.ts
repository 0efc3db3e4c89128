import { AcquireRequest, acquireKeys, checkWeight } from './acquire-request.js';
import { Counts } from './counts.js';
import {
  LimiterClosedError,
  QueueFullError,
  QueueTimeoutError,
  type RejectionReason,
} from './errors.js';
import { IdleWaiters } from './idle-waiters.js';
import type { AcquireOptions, Limiter, LimiterCounters, Permit, WaitListener } from './limiter.js';
import { OwnedPermit, type PermitOwner } from './permit.js';
import { type CountsRejections, countRejection } from './rejection-count.js';
import { runWithPermit } from './run.js';
import * as check from './validate.js';
import { WaitListeners } from './wait-listeners.js';
import { type QueueOrder, WaitQueue } from './wait-queue.js';
import { newWaiter, type Waiter, type WaiterHost, type WatchedWaiter } from './waiter.js';

export interface SemaphoreOptions {
  /** How many units may be held at once: an integer >= 1. */
  limit: number;
  /** Most acquirers allowed to wait; beyond it `acquire` rejects with `QueueFullError`. Default: no bound. */
  maxQueue?: number;
  /** Longest wait in the queue before `QueueTimeoutError`, in ms. Default: no timeout. */
  queueTimeoutMs?: number;
  /** `'fifo'` (default) serves the oldest waiter first, `'lifo'` the newest. */
  order?: QueueOrder;
  /** Shown in errors and used as the `limiter` label in metrics. Default `'semaphore'`. */
  name?: string;
}

const optionKeys: ReadonlySet<string> = new Set([
  'limit',
  'maxQueue',
  'queueTimeoutMs',
  'order',
  'name',
]);

const now = () => performance.now();

/**
 * A counting semaphore: `limit` units, taken by `acquire` and given back by
 * `Permit.release()`. Waiters are served strictly in order (FIFO by default,
 * highest `priority` first), and the one at the head is never overtaken by a
 * lighter one behind it, so nobody starves.
 *
 * Every state change is synchronous: a release hands its units to the next
 * waiters and resolves their promises in the same call. A waiter whose signal
 * aborts or whose timer fires afterwards finds itself settled and does
 * nothing, so it keeps its permit; one that gives up first leaves the queue
 * and lets the waiters behind it be served at once. No permit is lost either way.
 */
export class Semaphore implements Limiter, CountsRejections, AsyncDisposable {
  readonly name: string;
  #limit: number;
  #held = 0;
  readonly #maxQueue: number;
  readonly #queueTimeoutMs: number;
  readonly #queue: WaitQueue<Waiter>;
  #closed = false;
  #closeReason: unknown = undefined;
  readonly #idle = new IdleWaiters();
  readonly #waits: WaitListeners;
  readonly #counts = new Counts();
  readonly #checkWeight = (weight: unknown) => checkWeight(weight, this.#limit);
  readonly #request = new AcquireRequest({
    keys: acquireKeys,
    checkWeight: this.#checkWeight,
    priority: true,
    limiterKind: 'Semaphore',
  });
  // What this semaphore's permits and waiters call back into: the only way
  // in to its state from outside the class, and not part of its API.
  readonly #owner: PermitOwner & WaiterHost = {
    releaseWeight: (weight) => this.#release(weight),
    abandon: (waiter, cause) => this.#abandon(waiter, cause),
  };

  constructor(options: SemaphoreOptions) {
    const o = check.plainObject('options', options);
    check.knownKeys('Semaphore options', o, optionKeys);
    this.#limit = check.integerAtLeast('limit', o['limit'], 1);
    this.#maxQueue =
      o['maxQueue'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.countOrInfinity('maxQueue', o['maxQueue'], 0);
    this.#queueTimeoutMs =
      o['queueTimeoutMs'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.duration('queueTimeoutMs', o['queueTimeoutMs']);
    const order =
      o['order'] === undefined ? 'fifo' : check.oneOf('order', o['order'], ['fifo', 'lifo']);
    this.name = o['name'] === undefined ? 'semaphore' : check.nonEmptyString('name', o['name']);
    this.#queue = new WaitQueue(order);
    this.#waits = new WaitListeners(this.name);
  }

  get limit(): number {
    return this.#limit;
  }

  /** Units held now. May exceed `limit` for a while after `setLimit` shrank it. */
  get inUse(): number {
    return this.#held;
  }

  /** Units free now: `max(0, limit - inUse)`. */
  get available(): number {
    return this.#held >= this.#limit ? 0 : this.#limit - this.#held;
  }

  /** Acquirers in the queue now. */
  get waiting(): number {
    return this.#queue.size;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get counters(): LimiterCounters {
    return this.#counts.snapshot();
  }

  /**
   * Takes `weight` units, waiting in the queue if they are not free. Resolves
   * with a `Permit`; rejects with `QueueFullError`, `QueueTimeoutError`,
   * `LimiterClosedError`, or the signal's reason when it aborts.
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    // The common call, with no options and a free unit, touches nothing else.
    if (options === undefined && this.#held < this.#limit && this.#queue.size === 0) {
      if (!this.#closed) return Promise.resolve(this.#grant(1));
    }
    const request = this.#request;
    try {
      request.read(options, this.#queueTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    const { weight, priority, timeoutMs } = request;
    const signal = request.takeSignal();
    if (this.#closed) {
      this.#counts.closed++;
      return Promise.reject(new LimiterClosedError(this.name, this.#closeReason));
    }
    if (signal?.aborted) {
      this.#counts.aborted++;
      return Promise.reject(signal.reason);
    }
    // The units are free and nobody waiting comes first (the queue is empty,
    // or the newcomer outranks everyone in it).
    if (this.#held + weight <= this.#limit && this.#queue.landsAtHead(priority)) {
      return Promise.resolve(this.#grant(weight));
    }
    if (this.#queue.size >= this.#maxQueue) {
      this.#counts.queueFull++;
      return Promise.reject(new QueueFullError(this.name, this.#maxQueue));
    }
    return new Promise<Permit>((resolve) => {
      const waiter = newWaiter(
        weight,
        priority,
        resolve,
        this.#owner,
        signal,
        timeoutMs,
        this.#waits.list !== undefined,
      );
      this.#queue.push(waiter);
    });
  }

  /**
   * Takes `weight` units only if they are free now and nobody is waiting
   * (it never overtakes the queue). Returns the permit, or `undefined`.
   */
  tryAcquire(weight = 1): Permit | undefined {
    if (weight !== 1) this.#checkWeight(weight);
    if (this.#closed || this.#queue.size !== 0 || this.#held + weight > this.#limit) {
      return undefined;
    }
    return this.#grant(weight);
  }

  /**
   * Acquires, runs `fn`, and releases whatever `fn` does (as `'dropped'` when
   * it throws or rejects).
   */
  run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    return runWithPermit(this, fn, options);
  }

  /**
   * Changes the limit. Growing admits waiters at once. Shrinking takes nothing
   * back: holders keep their units and no one is admitted until `inUse` has
   * fallen far enough. Waiters heavier than the new limit could never be
   * served, so they are refused as if the line had no room for them
   * (`QueueFullError`, counted under `queue_full`).
   */
  setLimit(limit: number): void {
    check.integerAtLeast('limit', limit, 1);
    const shrinking = limit < this.#limit;
    this.#limit = limit;
    if (shrinking && this.#queue.size > 0) {
      for (const waiter of this.#queue.toArray()) {
        if (waiter.weight > limit) {
          this.#queue.remove(waiter);
          this.#counts.queueFull++;
          waiter.reject(new QueueFullError(this.name, undefined, limit, waiter.weight));
        }
      }
    }
    this.#drain();
    this.#checkIdle();
  }

  /**
   * Stops admitting: every waiter and every later `acquire` rejects with
   * `LimiterClosedError`. Held permits stay valid and are released as usual;
   * `idle()` tells when the last one is back. Calling it again does nothing.
   */
  close(reason?: unknown): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#closeReason = reason;
    const queue = this.#queue;
    for (let waiter = queue.shift(); waiter !== undefined; waiter = queue.shift()) {
      this.#counts.closed++;
      waiter.reject(new LimiterClosedError(this.name, reason));
    }
    this.#checkIdle();
    return Promise.resolve();
  }

  /** Resolves once nothing is held and nobody waits. */
  idle(): Promise<void> {
    if (this.#held === 0 && this.#queue.size === 0) return Promise.resolve();
    return this.#idle.wait();
  }

  onWait(listener: WaitListener): () => void {
    return this.#waits.add(listener);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Counts a rejection the HTTP middleware made in front of this semaphore (doorman-internal). */
  [countRejection](reason: RejectionReason): void {
    this.#counts.count(reason);
  }

  #grant(weight: number): Permit {
    this.#held += weight;
    this.#counts.acquired++;
    if (this.#waits.list !== undefined) this.#waits.emit(0);
    return new OwnedPermit(this.#owner, weight);
  }

  /** A permit gives its units back, once. */
  #release(weight: number): void {
    this.#held -= weight;
    this.#counts.released++;
    if (this.#queue.size !== 0) this.#drain();
    else if (this.#held === 0) this.#checkIdle();
  }

  /** A waiter whose signal aborted or whose timer fired leaves the line. */
  #abandon(waiter: WatchedWaiter, cause: 'aborted' | 'timeout'): void {
    const wasHead = this.#queue.peek() === waiter;
    this.#queue.remove(waiter);
    if (cause === 'aborted') {
      this.#counts.aborted++;
      waiter.reject(waiter.signal?.reason);
    } else {
      this.#counts.timeout++;
      waiter.reject(new QueueTimeoutError(this.name, waiter.timeoutMs));
    }
    // A heavy head that gave up may have been all that held lighter waiters back.
    if (wasHead) this.#drain();
    this.#checkIdle();
  }

  #drain(): void {
    const queue = this.#queue;
    for (;;) {
      const waiter = queue.peek();
      if (waiter === undefined || this.#held + waiter.weight > this.#limit) break;
      queue.remove(waiter);
      this.#held += waiter.weight;
      this.#counts.acquired++;
      waiter.resolve(new OwnedPermit(this.#owner, waiter.weight));
      // A waiter that queued before anyone listened has no start time to report.
      if (this.#waits.list !== undefined && waiter.enqueuedAt >= 0) {
        this.#waits.emit(now() - waiter.enqueuedAt);
      }
    }
  }

  #checkIdle(): void {
    if (this.#held === 0 && this.#queue.size === 0) this.#idle.wake();
  }
}
