import type { Permit, ReleaseOutcome } from '@doorman/semaphore';

/** The side a RedisPermit gives itself back to. */
export interface PermitOwner {
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

let create: (
  owner: PermitOwner,
  id: string,
  weight: number,
  local: boolean,
  limiterName: string,
) => RedisPermit;
let flagLost: (permit: RedisPermit) => boolean;

/**
 * A permit of a RedisSemaphore. Like the core's permits, `release()` is
 * idempotent: the owner reference is dropped on the first call, so a second
 * call has nothing to give back. It also tells whether its lease was lost
 * (`lost`, and `signal` aborts then), and whether it was admitted without
 * Redis under `failOpen` (`local`). Only a RedisSemaphore makes them.
 */
export class RedisPermit implements Permit {
  readonly weight: number;
  /** The permit's id in Redis, `<instance>:<weight>:<n>`. */
  readonly id: string;
  /** True when admitted by `failOpen` while Redis was unreachable: it is not counted in Redis. */
  readonly local: boolean;
  #owner: PermitOwner | undefined;
  #lost = false;
  #controller: AbortController | undefined;
  readonly #limiterName: string;

  static {
    create = (owner, id, weight, local, limiterName) =>
      new RedisPermit(owner, id, weight, local, limiterName);
    flagLost = (permit) => permit.#markLost();
  }

  private constructor(
    owner: PermitOwner,
    id: string,
    weight: number,
    local: boolean,
    limiterName: string,
  ) {
    this.#owner = owner;
    this.id = id;
    this.weight = weight;
    this.local = local;
    this.#limiterName = limiterName;
  }

  get released(): boolean {
    return this.#owner === undefined;
  }

  /**
   * True once the lease ran out before `release()` (the process stalled or
   * Redis was unreachable for longer than `leaseMs`, or the key was deleted):
   * Redis no longer counts this permit.
   */
  get lost(): boolean {
    return this.#lost;
  }

  /** Aborts with a `LeaseLostError` when the lease is lost; hand it to the work the permit guards. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#lost) this.#controller.abort(new LeaseLostError(this.#limiterName));
    }
    return this.#controller.signal;
  }

  /** Gives the permit back. The outcome is accepted for the `Permit` contract and not used. */
  release(_outcome?: ReleaseOutcome): void {
    const owner = this.#owner;
    if (owner === undefined) return;
    this.#owner = undefined;
    owner.releasePermit(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  /** Marks the lease lost; returns false if it already was. */
  #markLost(): boolean {
    if (this.#lost) return false;
    this.#lost = true;
    this.#controller?.abort(new LeaseLostError(this.#limiterName));
    return true;
  }
}

/** Makes a permit (RedisSemaphore's only). */
export function newPermit(
  owner: PermitOwner,
  id: string,
  weight: number,
  local: boolean,
  limiterName: string,
): RedisPermit {
  return create(owner, id, weight, local, limiterName);
}

/** Flags a permit's lease lost; false if it already was. */
export function markLost(permit: RedisPermit): boolean {
  return flagLost(permit);
}
