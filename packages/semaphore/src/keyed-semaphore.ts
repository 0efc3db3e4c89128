import { AcquireRequest, checkWeight } from './acquire-request.js';
import { Counts } from './counts.js';
import {
  LimiterClosedError,
  QueueFullError,
  QueueTimeoutError,
  type RejectionReason,
} from './errors.js';
import { FairRing } from './fair-ring.js';
import { IdleWaiters } from './idle-waiters.js';
import { type KeyOwner, KeyState } from './key-state.js';
import {
  checkKey,
  type KeyedSemaphoreOptions,
  type KeyedSettings,
  keyedAcquireKeys,
  keyedSettings,
} from './keyed-options.js';
import type { AcquireOptions, Limiter, LimiterCounters, Permit, WaitListener } from './limiter.js';
import { OwnedPermit } from './permit.js';
import { type CountsRejections, countRejection } from './rejection-count.js';
import { runWithPermit } from './run.js';
import * as check from './validate.js';
import { WaitListeners } from './wait-listeners.js';
import { WaitQueue } from './wait-queue.js';
import { newWaiter, type Waiter, type WatchedWaiter } from './waiter.js';

const now = () => performance.now();

/**
 * A limit per key (tenant, API key, client address) under one optional total.
 * Each key holds at most `limit` units and queues at most `maxQueue` acquirers;
 * all keys together hold at most `totalLimit`. Capacity that frees up goes to
 * the keys that wait for it in turn (deficit round robin, one unit of credit
 * per turn, so a request of weight 3 costs its key three turns): a key that
 * floods waits behind itself, never in front of the others. Within a key,
 * `priority` and `order` mean what they mean for `Semaphore`.
 *
 * A key exists while it holds or waits and is dropped the moment it is idle,
 * so memory follows the keys in use now. No handle to one key is handed out;
 * the numbers add up all keys under one `name`, so metrics keep one label
 * value whatever keys clients send.
 */
export class KeyedSemaphore implements Limiter, CountsRejections, AsyncDisposable {
  readonly name: string;
  /** The most all keys together may hold: `Infinity` without the option. */
  readonly totalLimit: number;
  #limit: number;
  #held = 0;
  #queued = 0;
  #keysWaiting = 0;
  readonly #settings: KeyedSettings;
  readonly #keys = new Map<string, KeyState>();
  // Keys whose next waiter fits their own limit and waits only for total capacity.
  readonly #ring = new FairRing<KeyState>();
  #closed = false;
  #closeReason: unknown = undefined;
  readonly #idleWaiters = new IdleWaiters();
  readonly #waits: WaitListeners;
  readonly #counts = new Counts();
  readonly #checkWeight = (weight: unknown) => checkWeight(weight, this.#limit, this.totalLimit);
  readonly #request = new AcquireRequest({
    keys: keyedAcquireKeys,
    checkWeight: this.#checkWeight,
    priority: true,
    limiterKind: 'KeyedSemaphore',
  });
  // What the keys of this limiter call back into: the only way in to its
  // state from outside the class, and not part of its API.
  readonly #owner: KeyOwner = {
    releaseFrom: (state, weight) => this.#releaseFrom(state, weight),
    abandonFrom: (state, waiter, cause) => this.#abandonFrom(state, waiter, cause),
  };

  constructor(options: KeyedSemaphoreOptions) {
    this.#settings = keyedSettings(options);
    this.name = this.#settings.name;
    this.#limit = this.#settings.limit;
    this.totalLimit = this.#settings.totalLimit;
    this.#waits = new WaitListeners(this.name);
  }

  /** The limit of each key. */
  get limit(): number {
    return this.#limit;
  }

  /** Units held now, over all keys. */
  get inUse(): number {
    return this.#held;
  }
  /** Acquirers waiting now, over all keys. */
  get waiting(): number {
    return this.#queued;
  }

  /** Keys holding a permit or waiting now. */
  get activeKeys(): number {
    return this.#keys.size;
  }
  /** Keys with at least one acquirer waiting now. */
  get waitingKeys(): number {
    return this.#keysWaiting;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get counters(): LimiterCounters {
    return this.#counts.snapshot();
  }

  /** Units held now by `key` (0 for a key not in use). Never creates the key. */
  inUseOf(key: string): number {
    return this.#keys.get(key)?.held ?? 0;
  }

  /** Acquirers of `key` waiting now. Never creates the key. */
  waitingOf(key: string): number {
    return this.#keys.get(key)?.waiting ?? 0;
  }

  /**
   * Takes `weight` units for `key` (required), waiting if they are not free
   * or other keys wait for their turn. Rejects like `Semaphore.acquire`.
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    const request = this.#request;
    let key: string;
    let signal: AbortSignal | undefined;
    try {
      request.read(options, this.#settings.queueTimeoutMs);
      signal = request.takeSignal();
      key = checkKey(request.key);
    } catch (error) {
      return Promise.reject(error);
    }
    const { weight, priority, timeoutMs } = request;
    if (this.#closed) {
      this.#counts.closed++;
      return Promise.reject(new LimiterClosedError(this.name, this.#closeReason));
    }
    if (signal?.aborted) {
      this.#counts.aborted++;
      return Promise.reject(signal.reason);
    }
    let state = this.#keys.get(key);
    // The fast path: the units are free for this key and in total, nobody of
    // this key comes first, and no other key waits for its turn.
    if (
      this.#held + weight <= this.totalLimit &&
      this.#ring.current === undefined &&
      (state === undefined ||
        (state.held + weight <= this.#limit &&
          (state.queue === undefined || state.queue.landsAtHead(priority))))
    ) {
      if (state === undefined) state = this.#addKey(key);
      if (this.#waits.list !== undefined) this.#waits.emit(0);
      return Promise.resolve(this.#grant(state, weight));
    }
    if ((state === undefined ? 0 : state.waiting) >= this.#settings.maxQueue) {
      this.#counts.queueFull++;
      return Promise.reject(new QueueFullError(this.name, this.#settings.maxQueue));
    }
    const keyState = state === undefined ? this.#addKey(key) : state;
    return new Promise<Permit>((resolve) => {
      const waiter = newWaiter(
        weight,
        priority,
        resolve,
        keyState,
        signal,
        timeoutMs,
        this.#waits.list !== undefined,
      );
      if (keyState.queue === undefined) keyState.queue = new WaitQueue(this.#settings.order);
      if (keyState.queue.size === 0) this.#keysWaiting++;
      keyState.queue.push(waiter);
      this.#queued++;
      if (keyState.queue.peek() === waiter) {
        this.#reconsider(keyState);
        this.#dispatch();
      }
    });
  }

  /**
   * Takes `weight` units for `key` only if they are free now and nobody, of
   * this key or waiting for a turn, would be overtaken. Returns the permit,
   * or `undefined`. A bad weight or key throws.
   */
  tryAcquire(weight = 1, key?: string): Permit | undefined {
    this.#checkWeight(weight);
    const k = checkKey(key);
    if (this.#closed || this.#ring.current !== undefined || this.#held + weight > this.totalLimit) {
      return undefined;
    }
    let state = this.#keys.get(k);
    if (state === undefined) state = this.#addKey(k);
    else if (state.waiting !== 0 || state.held + weight > this.#limit) return undefined;
    if (this.#waits.list !== undefined) this.#waits.emit(0);
    return this.#grant(state, weight);
  }

  /**
   * Changes each key's limit, as `Semaphore.setLimit` does: growing admits
   * waiters at once, shrinking takes nothing back, and waiters heavier than
   * the new limit are refused (`QueueFullError`, counted under `queue_full`).
   * It visits every key in use.
   */
  setLimit(limit: number): void {
    check.integerAtLeast('limit', limit, 1);
    const shrinking = limit < this.#limit;
    this.#limit = limit;
    const most = Math.min(limit, this.totalLimit);
    for (const state of this.#keys.values()) {
      const queue = state.queue;
      if (queue === undefined || queue.size === 0) continue;
      if (shrinking) {
        for (const waiter of queue.toArray()) {
          if (waiter.weight <= most) continue;
          this.#unqueue(state, waiter);
          this.#counts.queueFull++;
          waiter.reject(new QueueFullError(this.name, undefined, most, waiter.weight));
        }
      }
      this.#reconsider(state);
    }
    this.#dispatch();
    for (const state of this.#keys.values()) this.#dropIfIdle(state);
    this.#checkIdle();
  }

  /**
   * Stops admitting: every waiter and every later `acquire` rejects with
   * `LimiterClosedError`. Held permits stay valid; `idle()` tells when the
   * last one is back. Calling it again does nothing.
   */
  close(reason?: unknown): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#closeReason = reason;
    for (const state of this.#keys.values()) {
      if (this.#ring.has(state)) this.#ring.remove(state);
      const queue = state.queue;
      if (queue !== undefined) {
        for (let waiter = queue.shift(); waiter !== undefined; waiter = queue.shift()) {
          this.#counts.closed++;
          waiter.reject(new LimiterClosedError(this.name, reason));
        }
      }
      this.#dropIfIdle(state);
    }
    this.#queued = 0;
    this.#keysWaiting = 0;
    this.#checkIdle();
    return Promise.resolve();
  }

  /** Resolves once nothing is held and nobody waits, over all keys. */
  idle(): Promise<void> {
    if (this.#held === 0 && this.#queued === 0) return Promise.resolve();
    return this.#idleWaiters.wait();
  }

  onWait(listener: WaitListener): () => void {
    return this.#waits.add(listener);
  }

  /** As `Semaphore.run`; `options.key` is required. */
  run<T>(fn: () => T | PromiseLike<T>, options: AcquireOptions): Promise<T> {
    return runWithPermit(this, fn, options);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Counts a rejection the HTTP middleware made in front of this limiter (doorman-internal). */
  [countRejection](reason: RejectionReason): void {
    this.#counts.count(reason);
  }

  /** A permit of `state` gives its units back, once. */
  #releaseFrom(state: KeyState, weight: number): void {
    state.held -= weight;
    this.#held -= weight;
    this.#counts.released++;
    if (state.queue !== undefined && state.queue.size !== 0) this.#reconsider(state);
    if (this.#ring.current !== undefined) this.#dispatch();
    this.#dropIfIdle(state);
    this.#checkIdle();
  }

  /** A waiter of `state` whose signal aborted or whose timer fired leaves the line. */
  #abandonFrom(state: KeyState, waiter: WatchedWaiter, cause: 'aborted' | 'timeout'): void {
    const wasHead = (state.queue as WaitQueue<Waiter>).peek() === waiter;
    this.#unqueue(state, waiter);
    if (cause === 'aborted') {
      this.#counts.aborted++;
      waiter.reject(waiter.signal?.reason);
    } else {
      this.#counts.timeout++;
      waiter.reject(new QueueTimeoutError(this.name, waiter.timeoutMs));
    }
    // A heavy head that gave up may have been all that held its key, or every key, back.
    if (wasHead) {
      this.#reconsider(state);
      this.#dispatch();
    }
    this.#dropIfIdle(state);
    this.#checkIdle();
  }

  /**
   * Hands free total capacity to the keys in the ring, in turn. Each turn
   * earns the key one unit of credit; its next waiter is admitted once its
   * credit covers its weight. A key whose waiter is due but does not fit in
   * the capacity left keeps its turn, so a heavy waiter is never overtaken.
   */
  #dispatch(): void {
    const ring = this.#ring;
    for (;;) {
      const state = ring.current;
      // Turns are handed out only while there is capacity to hand out.
      if (state === undefined || this.#held >= this.totalLimit) return;
      const queue = state.queue as WaitQueue<Waiter>;
      const waiter = queue.peek() as Waiter;
      if (!ring.granted) {
        ring.granted = true;
        state.deficit += 1;
      }
      if (waiter.weight > state.deficit) {
        ring.advance();
        continue;
      }
      if (this.#held + waiter.weight > this.totalLimit) return;
      this.#unqueue(state, waiter);
      state.deficit -= waiter.weight;
      waiter.resolve(this.#grant(state, waiter.weight));
      // A waiter that queued before anyone listened has no start time to report.
      if (this.#waits.list !== undefined && waiter.enqueuedAt >= 0) {
        this.#waits.emit(now() - waiter.enqueuedAt);
      }
      const next = queue.peek();
      if (next === undefined || state.held + next.weight > this.#limit) this.#leaveRing(state);
      else if (next.weight > state.deficit) ring.advance();
    }
  }

  /** Puts a key in the ring when its next waiter fits its own limit; takes it out when not. */
  #reconsider(state: KeyState): void {
    const head = state.queue?.peek();
    if (head !== undefined && state.held + head.weight <= this.#limit) {
      if (!this.#ring.has(state)) this.#ring.append(state);
    } else if (this.#ring.has(state)) {
      this.#leaveRing(state);
    }
  }

  #leaveRing(state: KeyState): void {
    this.#ring.remove(state);
    state.deficit = 0;
  }

  #addKey(key: string): KeyState {
    const state = new KeyState(key, this.#owner);
    this.#keys.set(key, state);
    return state;
  }

  #grant(state: KeyState, weight: number): Permit {
    state.held += weight;
    this.#held += weight;
    this.#counts.acquired++;
    return new OwnedPermit(state, weight);
  }

  #unqueue(state: KeyState, waiter: Waiter): void {
    const queue = state.queue as WaitQueue<Waiter>;
    queue.remove(waiter);
    this.#queued--;
    if (queue.size === 0) this.#keysWaiting--;
  }

  #dropIfIdle(state: KeyState): void {
    if (state.held !== 0 || state.waiting !== 0) return;
    if (this.#ring.has(state)) this.#leaveRing(state);
    if (this.#keys.get(state.key) === state) this.#keys.delete(state.key);
  }

  #checkIdle(): void {
    if (this.#held === 0 && this.#queued === 0) this.#idleWaiters.wake();
  }
}
