import type { RingNode } from './fair-ring.js';
import type { ReleaseOutcome } from './limiter.js';
import type { PermitOwner } from './permit.js';
import type { WaitQueue } from './wait-queue.js';
import type { Waiter, WaiterHost, WatchedWaiter } from './waiter.js';

/** What a key reports to the keyed semaphore it belongs to. */
export interface KeyOwner {
  releaseFrom(state: KeyState, weight: number): void;
  abandonFrom(state: KeyState, waiter: WatchedWaiter, cause: 'aborted' | 'timeout'): void;
}

/**
 * The bookkeeping of one key of a `KeyedSemaphore`: the units it holds, its
 * own waiting line (made only when someone of this key waits) and its place
 * and credit in the round robin of keys. Never handed out: permits and
 * waiters point at it, so it lives exactly as long as the key is in use.
 */
export class KeyState implements PermitOwner, WaiterHost, RingNode {
  held = 0;
  queue: WaitQueue<Waiter> | undefined = undefined;
  /** Units of credit earned by turns in the round robin and not spent yet. */
  deficit = 0;
  ringPrev: RingNode | undefined = undefined;
  ringNext: RingNode | undefined = undefined;

  constructor(
    readonly key: string,
    private readonly owner: KeyOwner,
  ) {}

  get waiting(): number {
    return this.queue === undefined ? 0 : this.queue.size;
  }

  releaseWeight(weight: number, _outcome: ReleaseOutcome): void {
    this.owner.releaseFrom(this, weight);
  }

  abandon(waiter: WatchedWaiter, cause: 'aborted' | 'timeout'): void {
    this.owner.abandonFrom(this, waiter, cause);
  }
}
