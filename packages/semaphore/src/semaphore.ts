import {
  LimiterClosedError,
  QueueFullError,
  QueueTimeoutError,
  type RejectionReason,
} from './errors.js';
import type { AcquireOptions, Limiter, LimiterCounters, Permit, WaitListener } from './limiter.js';
import { OwnedPermit, type PermitOwner } from './permit.js';
import { type CountsRejections, countRejection } from './rejection-count.js';
import * as check from './validate.js';
import { WaitListeners } from './wait-listeners.js';
import { type QueueOrder, WaitQueue } from './wait-queue.js';
import { armTimer, Waiter, WaiterGuard, type WaiterHost } from './waiter.js';

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
const acquireKeys: ReadonlySet<string> = new Set(['weight', 'signal', 'timeoutMs', 'priority']);

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
export class Semaphore
  implements Limiter, PermitOwner, WaiterHost, CountsRejections, AsyncDisposable
{
  readonly name: string;
  private limitValue: number;
  private held = 0;
  private readonly maxQueue: number;
  private readonly queueTimeoutMs: number;
  private readonly queue: WaitQueue<Waiter>;
  private closed = false;
  private closeReason: unknown = undefined;
  private idleResolvers: Array<() => void> | undefined = undefined;
  private readonly waits: WaitListeners;

  private acquiredCount = 0;
  private releasedCount = 0;
  private rejectedQueueFull = 0;
  private rejectedTimeout = 0;
  private rejectedAborted = 0;
  private rejectedClosed = 0;

  constructor(options: SemaphoreOptions) {
    const o = check.plainObject('options', options);
    check.knownKeys('Semaphore options', o, optionKeys);
    this.limitValue = check.integerAtLeast('limit', o['limit'], 1);
    this.maxQueue =
      o['maxQueue'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.countOrInfinity('maxQueue', o['maxQueue'], 0);
    this.queueTimeoutMs =
      o['queueTimeoutMs'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.duration('queueTimeoutMs', o['queueTimeoutMs']);
    const order =
      o['order'] === undefined ? 'fifo' : check.oneOf('order', o['order'], ['fifo', 'lifo']);
    this.name = o['name'] === undefined ? 'semaphore' : check.nonEmptyString('name', o['name']);
    this.queue = new WaitQueue(order);
    this.waits = new WaitListeners(this.name);
  }

  get limit(): number {
    return this.limitValue;
  }

  /** Units held now. May exceed `limit` for a while after `setLimit` shrank it. */
  get inUse(): number {
    return this.held;
  }

  /** Units free now: `max(0, limit - inUse)`. */
  get available(): number {
    return this.held >= this.limitValue ? 0 : this.limitValue - this.held;
  }

  /** Acquirers in the queue now. */
  get waiting(): number {
    return this.queue.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get counters(): LimiterCounters {
    return {
      acquired: this.acquiredCount,
      released: this.releasedCount,
      rejected: {
        queue_full: this.rejectedQueueFull,
        timeout: this.rejectedTimeout,
        aborted: this.rejectedAborted,
        closed: this.rejectedClosed,
        unavailable: 0,
      },
    };
  }

  /**
   * Takes `weight` units, waiting in the queue if they are not free. Resolves
   * with a `Permit`; rejects with `QueueFullError`, `QueueTimeoutError`,
   * `LimiterClosedError`, or the signal's reason when it aborts.
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    let weight = 1;
    let priority = 0;
    let signal: AbortSignal | undefined;
    let timeoutMs = this.queueTimeoutMs;
    if (options !== undefined) {
      try {
        check.plainObject('acquire options', options);
        if (options.weight !== undefined) weight = this.checkWeight(options.weight);
        if (options.priority !== undefined)
          priority = check.finiteNumber('priority', options.priority);
        if (options.timeoutMs !== undefined)
          timeoutMs = check.duration('timeoutMs', options.timeoutMs);
        if (options.signal !== undefined) signal = check.signal('signal', options.signal);
        for (const key in options) {
          if (!acquireKeys.has(key)) check.knownKeys('acquire options', options, acquireKeys);
        }
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (this.closed) {
      this.rejectedClosed++;
      return Promise.reject(new LimiterClosedError(this.name, this.closeReason));
    }
    if (signal?.aborted) {
      this.rejectedAborted++;
      return Promise.reject(signal.reason);
    }
    // The fast path: the units are free and nobody waiting comes first
    // (the queue is empty, or the newcomer outranks everyone in it).
    if (this.held + weight <= this.limitValue && this.queue.landsAtHead(priority)) {
      this.held += weight;
      this.acquiredCount++;
      if (this.waits.list !== undefined) this.waits.emit(0);
      return Promise.resolve(new OwnedPermit(this, weight));
    }
    if (this.queue.size >= this.maxQueue) {
      this.rejectedQueueFull++;
      return Promise.reject(new QueueFullError(this.name, this.maxQueue));
    }
    return new Promise<Permit>((resolve, reject) => {
      // The clock is read only when someone listens for wait times.
      const enqueuedAt = this.waits.list === undefined ? -1 : now();
      const waiter = new Waiter(weight, priority, enqueuedAt, resolve, reject);
      this.queue.push(waiter);
      if (signal !== undefined || timeoutMs !== Number.POSITIVE_INFINITY) {
        const guard = new WaiterGuard(waiter, this, signal, timeoutMs);
        waiter.guard = guard;
        if (signal !== undefined) signal.addEventListener('abort', guard);
        if (timeoutMs !== Number.POSITIVE_INFINITY) armTimer(guard, timeoutMs);
      }
    });
  }

  /**
   * Takes `weight` units only if they are free now and nobody is waiting
   * (it never overtakes the queue). Returns the permit, or `undefined`.
   */
  tryAcquire(weight = 1): Permit | undefined {
    this.checkWeight(weight);
    if (this.closed || this.queue.size !== 0 || this.held + weight > this.limitValue) {
      return undefined;
    }
    this.held += weight;
    this.acquiredCount++;
    if (this.waits.list !== undefined) this.waits.emit(0);
    return new OwnedPermit(this, weight);
  }

  /** Acquires, runs `fn`, and releases in `finally`, whatever `fn` does. */
  async run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== 'function') {
      throw new TypeError(`Expected \`fn\` to be a function, got ${check.show(fn)}`);
    }
    const permit = await this.acquire(options);
    try {
      return await fn();
    } finally {
      permit.release();
    }
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
    const shrinking = limit < this.limitValue;
    this.limitValue = limit;
    if (shrinking && this.queue.size > 0) {
      for (const waiter of this.queue.toArray()) {
        if (waiter.weight > limit) {
          this.queue.remove(waiter);
          this.rejectedQueueFull++;
          waiter.reject(new QueueFullError(this.name, undefined, limit, waiter.weight));
        }
      }
    }
    this.drain();
    this.checkIdle();
  }

  /**
   * Stops admitting: every waiter and every later `acquire` rejects with
   * `LimiterClosedError`. Held permits stay valid and are released as usual;
   * `idle()` tells when the last one is back. Calling it again does nothing.
   */
  close(reason?: unknown): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.closeReason = reason;
    for (let waiter = this.queue.shift(); waiter !== undefined; waiter = this.queue.shift()) {
      this.rejectedClosed++;
      waiter.reject(new LimiterClosedError(this.name, reason));
    }
    this.checkIdle();
    return Promise.resolve();
  }

  /** Resolves once nothing is held and nobody waits. */
  idle(): Promise<void> {
    if (this.held === 0 && this.queue.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      if (this.idleResolvers === undefined) this.idleResolvers = [];
      this.idleResolvers.push(resolve);
    });
  }

  onWait(listener: WaitListener): () => void {
    return this.waits.add(listener);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal Counts a rejection the HTTP middleware made in front of this semaphore. */
  [countRejection](reason: RejectionReason): void {
    if (reason === 'queue_full') this.rejectedQueueFull++;
    else if (reason === 'timeout') this.rejectedTimeout++;
    else if (reason === 'aborted') this.rejectedAborted++;
    else if (reason === 'closed') this.rejectedClosed++;
  }

  /** @internal Called by a permit, once. */
  releaseWeight(weight: number): void {
    this.held -= weight;
    this.releasedCount++;
    if (this.queue.size !== 0) this.drain();
    else if (this.held === 0) this.checkIdle();
  }

  /** @internal Called by a waiter whose signal aborted or whose timer fired. */
  abandon(waiter: Waiter, cause: 'aborted' | 'timeout'): void {
    const wasHead = this.queue.peek() === waiter;
    this.queue.remove(waiter);
    if (cause === 'aborted') {
      this.rejectedAborted++;
      waiter.reject(waiter.guard?.signal?.reason);
    } else {
      this.rejectedTimeout++;
      waiter.reject(new QueueTimeoutError(this.name, waiter.guard?.timeoutMs));
    }
    // A heavy head that gave up may have been all that held lighter waiters back.
    if (wasHead) this.drain();
    this.checkIdle();
  }

  private drain(): void {
    for (;;) {
      const waiter = this.queue.peek();
      if (waiter === undefined || this.held + waiter.weight > this.limitValue) break;
      this.queue.remove(waiter);
      this.held += waiter.weight;
      this.acquiredCount++;
      waiter.resolve(new OwnedPermit(this, waiter.weight));
      // A waiter that queued before anyone listened has no start time to report.
      if (this.waits.list !== undefined && waiter.enqueuedAt >= 0) {
        this.waits.emit(now() - waiter.enqueuedAt);
      }
    }
  }

  private checkIdle(): void {
    if (this.held !== 0 || this.queue.size !== 0) return;
    const resolvers = this.idleResolvers;
    if (resolvers !== undefined) {
      this.idleResolvers = undefined;
      for (const resolve of resolvers) resolve();
    }
  }

  private checkWeight(weight: unknown): number {
    if (typeof weight !== 'number') {
      throw new TypeError(
        `Expected \`weight\` to be an integer from 1 to limit (${this.limitValue}), got ${check.show(weight)}`,
      );
    }
    if (!Number.isInteger(weight) || weight < 1 || weight > this.limitValue) {
      throw new RangeError(
        `Expected \`weight\` to be an integer from 1 to limit (${this.limitValue}), got ${check.show(weight)}`,
      );
    }
    return weight;
  }
}
