import type { Permit } from '@doorman/semaphore';

/** The side a RedisPermit gives itself back to. */
export interface RedisPermitOwner {
  releasePermit(permit: RedisPermit): void;
}

/**
 * Thrown as the `reason` of `permit.signal` when the permit's lease was lost:
 * Redis no longer counts it, so other processes may be admitted in its place.
 * Not a rejection of any promise: the permit holder decides what to do.
 */
export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  /** The name of the limiter whose permit it was. */
  readonly limiter: string;

  constructor(limiter: string) {
    super(`Lease lost: the permit is no longer counted in Redis (limiter "${limiter}")`);
    this.name = 'LeaseLostError';
    this.limiter = limiter;
  }
}

/**
 * A permit of a RedisSemaphore. Like the core's permits, `release()` is
 * idempotent: the owner reference is dropped on the first call, so a second
 * call has nothing to give back. It also tells whether its lease was lost
 * (`lost`, and `signal` aborts then), and whether it was admitted without
 * Redis under `failOpen` (`local`).
 */
export class RedisPermit implements Permit {
  readonly weight: number;
  /** The permit's id in Redis, `<instance>:<weight>:<n>`. */
  readonly id: string;
  /** True when admitted by `failOpen` while Redis was unreachable: it is not counted in Redis. */
  readonly local: boolean;
  /** @internal Local time (performance.now) until which the lease is known to hold. */
  confirmedUntil: number;
  private owner: RedisPermitOwner | undefined;
  private lostFlag = false;
  private controller: AbortController | undefined;
  private readonly limiterName: string;

  /** @internal */
  constructor(
    owner: RedisPermitOwner,
    id: string,
    weight: number,
    local: boolean,
    confirmedUntil: number,
    limiterName: string,
  ) {
    this.owner = owner;
    this.id = id;
    this.weight = weight;
    this.local = local;
    this.confirmedUntil = confirmedUntil;
    this.limiterName = limiterName;
  }

  get released(): boolean {
    return this.owner === undefined;
  }

  /**
   * True once the lease ran out before `release()` (the process stalled or
   * Redis was unreachable for longer than `leaseMs`, or the key was deleted):
   * Redis no longer counts this permit.
   */
  get lost(): boolean {
    return this.lostFlag;
  }

  /** Aborts with a `LeaseLostError` when the lease is lost; hand it to the work the permit guards. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.lostFlag) this.controller.abort(new LeaseLostError(this.limiterName));
    }
    return this.controller.signal;
  }

  release(): void {
    const owner = this.owner;
    if (owner === undefined) return;
    this.owner = undefined;
    owner.releasePermit(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  /** @internal Marks the lease lost; returns false if it already was. */
  markLost(): boolean {
    if (this.lostFlag) return false;
    this.lostFlag = true;
    this.controller?.abort(new LeaseLostError(this.limiterName));
    return true;
  }
}
