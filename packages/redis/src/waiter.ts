import type { RedisPermit } from './permit.js';

export type GiveUpCause = 'aborted' | 'timeout' | 'closed' | 'unavailable';

/** What a waiter calls when it gives up. */
export interface WaiterOwner {
  abandon(waiter: Waiter, cause: GiveUpCause, detail?: unknown): void;
}

/** One acquire of this process that has not settled yet. */
export class Waiter {
  timer: NodeJS.Timeout | undefined = undefined;
  /** Rejects the acquire as unavailable if Redis has not answered it in time. */
  deadline: NodeJS.Timeout | undefined = undefined;
  /** The acquire script was sent. */
  sent = false;
  /** Its answer came back: the waiter is in the Redis line (or was granted). */
  answered = false;
  /** The promise settled; every later event is ignored. */
  done = false;
  /** It gave up (or was admitted locally): what Redis did for it must be undone. */
  gaveUp = false;
  /** Local time until which its lease is known to hold. */
  confirmedUntil = 0;

  constructor(
    readonly owner: WaiterOwner,
    readonly id: string,
    readonly weight: number,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number,
    readonly startedAt: number,
    readonly resolve: (permit: RedisPermit) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  /** The abort listener. */
  handleEvent(): void {
    if (!this.done) this.owner.abandon(this, 'aborted');
  }
}

export function onWaiterTimeout(waiter: Waiter): void {
  if (!waiter.done) waiter.owner.abandon(waiter, 'timeout');
}
