import type { Permit } from './limiter.js';
import type { Bucket, QueueNode } from './wait-queue.js';

/** What a waiter calls back into when it gives up by itself. */
export interface WaiterHost {
  abandon(waiter: Waiter, cause: 'aborted' | 'timeout'): void;
}

/**
 * One queued acquire: its own queue node, holding what a hand-off needs and
 * nothing more. Most waiters have neither a signal nor a timeout, so those
 * live in a `WaiterGuard` made only when asked for; a plain waiter costs this
 * object and its promise.
 */
export class Waiter implements QueueNode {
  prev: QueueNode | undefined = undefined;
  next: QueueNode | undefined = undefined;
  bucket: Bucket | undefined = undefined;
  guard: WaiterGuard | undefined = undefined;

  constructor(
    readonly weight: number,
    public priority: number,
    /** When it queued (performance.now()), or -1 when no one listens for wait times. */
    readonly enqueuedAt: number,
    private readonly resolveFn: (permit: Permit) => void,
    private readonly rejectFn: (error: unknown) => void,
  ) {}

  resolve(permit: Permit): void {
    if (this.guard !== undefined) this.guard.detach();
    this.resolveFn(permit);
  }

  reject(error: unknown): void {
    if (this.guard !== undefined) this.guard.detach();
    this.rejectFn(error);
  }
}

/**
 * The signal and the timeout of one waiter. It is the abort listener itself
 * (`handleEvent`) and its timer gets it as an argument: no closure per waiter.
 */
export class WaiterGuard {
  timer: NodeJS.Timeout | undefined = undefined;
  /** Set once the waiter is settled; a late event is ignored. */
  settled = false;

  constructor(
    readonly waiter: Waiter,
    readonly host: WaiterHost,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number,
  ) {}

  /** The abort listener. */
  handleEvent(): void {
    if (!this.settled) this.host.abandon(this.waiter, 'aborted');
  }

  /** Stops the timer and the abort listener before the promise settles, so neither can fire after. */
  detach(): void {
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
export function armTimer(guard: WaiterGuard, ms: number): void {
  guard.timer = setTimeout(onGuardTimer, Math.min(ms, MAX_DELAY), guard, ms - MAX_DELAY);
}

/** The timer callback, shared by all waiters: no closure per waiter. */
function onGuardTimer(guard: WaiterGuard, remainingMs: number): void {
  if (guard.settled) return;
  if (remainingMs > 0) armTimer(guard, remainingMs);
  else guard.host.abandon(guard.waiter, 'timeout');
}
