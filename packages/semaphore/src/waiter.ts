import type { Permit } from './limiter.js';
import type { Bucket, QueueNode } from './wait-queue.js';

/** What a waiter calls back into when it gives up by itself. */
export interface WaiterHost {
  abandon(waiter: Waiter, cause: 'aborted' | 'timeout'): void;
}

/**
 * One queued acquire. It is its own queue node and its own abort listener
 * (`handleEvent`), and its timer gets it as an argument, so queuing allocates
 * this object and the promise, nothing more.
 */
export class Waiter implements QueueNode {
  prev: QueueNode | undefined = undefined;
  next: QueueNode | undefined = undefined;
  bucket: Bucket | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  /** Set once the promise is settled; every later event is ignored. */
  settled = false;

  constructor(
    readonly host: WaiterHost,
    readonly weight: number,
    public priority: number,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number,
    readonly enqueuedAt: number,
    private readonly resolveFn: (permit: Permit) => void,
    private readonly rejectFn: (error: unknown) => void,
  ) {}

  /** The abort listener. */
  handleEvent(): void {
    if (!this.settled) this.host.abandon(this, 'aborted');
  }

  resolve(permit: Permit): void {
    this.detach();
    this.resolveFn(permit);
  }

  reject(error: unknown): void {
    this.detach();
    this.rejectFn(error);
  }

  /** Stops the timer and the abort listener before the promise settles, so neither can fire after. */
  private detach(): void {
    this.settled = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.signal !== undefined) this.signal.removeEventListener('abort', this);
  }
}

// setTimeout fires at once for delays above 2^31-1 ms; longer waits re-arm.
const MAX_DELAY = 2 ** 31 - 1;

/** Starts the waiter's timeout. */
export function armTimer(waiter: Waiter, ms: number): void {
  waiter.timer = setTimeout(onWaiterTimer, Math.min(ms, MAX_DELAY), waiter, ms - MAX_DELAY);
}

/** The timer callback, shared by all waiters: no closure per waiter. */
function onWaiterTimer(waiter: Waiter, remainingMs: number): void {
  if (waiter.settled) return;
  if (remainingMs > 0) armTimer(waiter, remainingMs);
  else waiter.host.abandon(waiter, 'timeout');
}
