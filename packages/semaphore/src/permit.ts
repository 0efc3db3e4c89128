import type { Permit, ReleaseOutcome } from './limiter.js';

/** The side a permit gives its weight back to. */
export interface PermitOwner {
  releaseWeight(weight: number, outcome: ReleaseOutcome): void;
}

/**
 * A permit that can reach its owner only once: after the first release the
 * reference is dropped, so a second `release()` has nothing to give back. This
 * is what makes a double release harmless instead of silently raising the limit.
 */
export class OwnedPermit implements Permit {
  readonly weight: number;
  private owner: PermitOwner | undefined;

  constructor(owner: PermitOwner, weight: number) {
    this.owner = owner;
    this.weight = weight;
  }

  get released(): boolean {
    return this.owner === undefined;
  }

  release(outcome: ReleaseOutcome = 'success'): void {
    const owner = this.owner;
    if (owner === undefined) return;
    this.owner = undefined;
    owner.releaseWeight(this.weight, outcome);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
