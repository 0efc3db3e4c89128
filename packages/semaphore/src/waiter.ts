import type { Permit } from './limiter.js';
import type { Bucket, QueueNode } from './wait-queue.js';

/** What a watched waiter calls back into when it gives up by itself. */
export interface WaiterHost {
  abandon(waiter: WatchedWaiter, cause: 'aborted' | 'timeout'): void;
}

/** The one function that settles a waiter's promise, either way. */
type Settle = (value: Permit | PromiseLike<never>) => void;

/**
 * One queued acquire, as lean as a hand-off allows: its links, its weight and
 * priority, and the resolve function of its promise. A refusal goes through
 * the same function (`settle(Promise.reject(error))`), so the promise's reject
 * function is not kept alive by every waiter for the few that are refused.
 * Most waiters have neither a signal nor a timeout and nobody times their
 * wait: what those need lives in `WatchedWaiter`.
 */
export class Waiter implements QueueNode {
  prev: QueueNode | undefined = undefined;
  next: QueueNode | undefined = undefined;
  bucket: Bucket | undefined = undefined;

  constructor(
    readonly weight: number,
    public priority: number,
    private readonly settle: Settle,
  ) {}

  /** When it queued (performance.now()), or -1 when no one listened for wait times then. */
  get enqueuedAt(): number {
    return -1;
  }

  resolve(permit: Permit): void {
    this.settle(permit);
  }

  reject(error: unknown): void {
    this.settle(Promise.reject(error));
  }
}

/**
 * A waiter with a signal, a timeout, or a wait time to report. It is the
 * abort listener itself (`handleEvent`) and its timer gets it as an argument:
 * no closure per waiter.
 */
export class WatchedWaiter extends Waiter {
  timer: NodeJS.Timeout | undefined = undefined;
  /** Set once the waiter is settled; a late event is ignored. */
  settled = false;

  constructor(
    weight: number,
    priority: number,
    settle: Settle,
    readonly host: WaiterHost,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number,
    private readonly startedAt: number,
  ) {
    super(weight, priority, settle);
  }

  override get enqueuedAt(): number {
    return this.startedAt;
  }

  /** The abort listener. */
  handleEvent(): void {
    if (!this.settled) this.host.abandon(this, 'aborted');
  }

  override resolve(permit: Permit): void {
    this.detach();
    super.resolve(permit);
  }

  override reject(error: unknown): void {
    this.detach();
    super.reject(error);
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

const now = () => performance.now();

/**
 * Makes the waiter for one queued acquire: a plain one unless it has a
 * signal or a timeout, or someone listens for wait times (then the clock is
 * read; otherwise it is not). Starts its signal listener and timer.
 */
export function newWaiter(
  weight: number,
  priority: number,
  settle: Settle,
  host: WaiterHost,
  signal: AbortSignal | undefined,
  timeoutMs: number,
  timed: boolean,
): Waiter {
  if (signal === undefined && timeoutMs === Number.POSITIVE_INFINITY && !timed) {
    return new Waiter(weight, priority, settle);
  }
  const waiter = new WatchedWaiter(
    weight,
    priority,
    settle,
    host,
    signal,
    timeoutMs,
    timed ? now() : -1,
  );
  if (signal !== undefined) signal.addEventListener('abort', waiter);
  if (timeoutMs !== Number.POSITIVE_INFINITY) armTimer(waiter, timeoutMs);
  return waiter;
}

// setTimeout fires at once for delays above 2^31-1 ms; longer waits re-arm.
const MAX_DELAY = 2 ** 31 - 1;

function armTimer(waiter: WatchedWaiter, ms: number): void {
  waiter.timer = setTimeout(onTimer, Math.min(ms, MAX_DELAY), waiter, ms - MAX_DELAY);
}

/** The timer callback, shared by all waiters: no closure per waiter. */
function onTimer(waiter: WatchedWaiter, remainingMs: number): void {
  if (waiter.settled) return;
  if (remainingMs > 0) armTimer(waiter, remainingMs);
  else waiter.host.abandon(waiter, 'timeout');
}
