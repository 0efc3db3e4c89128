// Keeps this process's leases alive: one timer per semaphore renews every
// holder and waiter in one script call, every leaseMs / 3.
import type { Commands } from './commands.js';
import type { Waiter } from './waiter.js';

const now = () => performance.now();

/** A permit of this process that Redis counts, and how long its lease is known to hold. */
export interface Holder {
  readonly id: string;
  readonly weight: number;
  /** Local time (performance.now) until which the lease is known to hold. */
  confirmedUntil: number;
}

/** What the renewal loop reads and does on the semaphore. */
export interface LeaseHolder {
  readonly holders: ReadonlyMap<string, Holder>;
  readonly waiters: ReadonlyMap<string, Waiter>;
  reachable(): boolean;
  /** A waiter found granted (its grant message never came). */
  admit(waiter: Waiter, immediate: boolean): void;
  /** A waiter found gone: it lost its place. */
  lostPlace(waiter: Waiter): void;
  /** A holder found gone: its lease was lost. */
  lose(holder: Holder): void;
}

export class Leases {
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerDue = 0;
  private renewing = false;
  private readonly onTimer = () => this.tick();
  readonly renewEvery: number;

  constructor(
    private readonly owner: LeaseHolder,
    private readonly commands: Commands,
    private readonly leaseMs: number,
  ) {
    this.renewEvery = Math.max(10, Math.floor(leaseMs / 3));
  }

  /** Makes sure a renewal runs within `delay` ms (one timer per semaphore). */
  schedule(delay: number): void {
    const due = now() + delay;
    if (this.timer !== undefined) {
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(this.onTimer, delay);
    this.timer.unref();
  }

  /** After a queued answer: come back when the earliest lease runs out (a crashed holder), or at the renewal period. */
  scheduleAfterQueued(nextExpiryMs: number): void {
    this.schedule(
      nextExpiryMs >= 0 ? Math.min(nextExpiryMs + 2, this.renewEvery) : this.renewEvery,
    );
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Renews every lease of this process in one script call. A holder found gone
   * is flagged lost; a waiter found granted is admitted (a grant message that
   * never arrived); a waiter found gone lost its place and is rejected.
   */
  private tick(): void {
    this.timer = undefined;
    if (this.renewing) return;
    const { holders, waiters } = this.owner;
    const ids: string[] = [];
    for (const id of holders.keys()) ids.push(id);
    for (const waiter of waiters.values()) if (waiter.answered) ids.push(waiter.id);
    if (ids.length === 0) {
      // Only waiters whose acquire is still on its way: check again soon.
      if (waiters.size > 0) this.schedule(this.renewEvery);
      return;
    }
    if (!this.owner.reachable()) {
      this.failed();
      this.schedule(this.renewEvery);
      return;
    }
    this.renewing = true;
    const sentAt = now();
    this.commands.renew(ids).then(
      (reply) => {
        this.renewing = false;
        this.renewed(ids, reply, sentAt);
      },
      () => {
        this.renewing = false;
        this.failed();
        this.reschedule(-1);
      },
    );
  }

  private renewed(ids: string[], reply: number[], sentAt: number): void {
    const until = sentAt + this.leaseMs;
    const { holders, waiters } = this.owner;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const status = reply[i];
      const permit = holders.get(id);
      if (permit !== undefined) {
        if (status === 1) permit.confirmedUntil = until;
        else if (status === 0) this.owner.lose(permit);
        continue;
      }
      const waiter = waiters.get(id);
      if (waiter === undefined || waiter.done) continue;
      if (status === 1) {
        waiter.confirmedUntil = until;
        this.owner.admit(waiter, false);
      } else if (status === 2) {
        waiter.confirmedUntil = until;
      } else {
        this.owner.lostPlace(waiter);
      }
    }
    this.reschedule(reply[ids.length] ?? -1);
  }

  /** Redis did not answer a renewal: whatever has gone unconfirmed for a whole lease is lost. */
  private failed(): void {
    const t = now();
    for (const permit of [...this.owner.holders.values()]) {
      if (permit.confirmedUntil <= t) this.owner.lose(permit);
    }
    for (const waiter of [...this.owner.waiters.values()]) {
      if (waiter.answered && !waiter.done && waiter.confirmedUntil <= t) {
        this.owner.lostPlace(waiter);
      }
    }
  }

  private reschedule(nextExpiryMs: number): void {
    const { holders, waiters } = this.owner;
    if (holders.size === 0 && waiters.size === 0) return; // the timer stops when idle
    let delay = this.renewEvery;
    if (waiters.size > 0 && nextExpiryMs >= 0) delay = Math.min(delay, nextExpiryMs + 2);
    this.schedule(delay);
  }
}
