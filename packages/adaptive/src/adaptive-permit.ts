import type { Permit, ReleaseOutcome } from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';

/** Where a permit reports how long it was held and how the work ended. */
export interface SampleSink {
  record(permit: AdaptivePermit, outcome: ReleaseOutcome): void;
}

/**
 * A permit of an `AdaptiveSemaphore`: the core's permit, plus when it was
 * admitted and how many units were held then. Its release is the sample the
 * limit learns from; the sample is taken before the units go back, so a
 * limit that comes down admits nobody on this release.
 */
export class AdaptivePermit implements Permit {
  readonly weight: number;
  private inner: Permit | undefined;
  private sink: SampleSink | undefined;

  constructor(
    inner: Permit,
    sink: SampleSink,
    /** Admission time, on the limiter's monotonic clock (ms). */
    readonly admittedAt: number,
    /** Units held just after admission, this permit's included. */
    readonly inFlight: number,
  ) {
    this.weight = inner.weight;
    this.inner = inner;
    this.sink = sink;
  }

  get released(): boolean {
    return this.inner === undefined;
  }

  release(outcome: ReleaseOutcome = 'success'): void {
    const inner = this.inner;
    if (inner === undefined) return;
    const sink = this.sink as SampleSink;
    this.inner = undefined;
    this.sink = undefined;
    const known = outcome === 'success' || outcome === 'dropped' || outcome === 'ignored';
    try {
      if (known) sink.record(this, outcome);
    } finally {
      inner.release(known ? outcome : 'ignored');
    }
    if (!known) {
      // The units are back either way; a wrong outcome is not a sample.
      throw new TypeError(
        `Expected \`outcome\` to be 'success' or 'dropped' or 'ignored', got ${check.show(outcome)}`,
      );
    }
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
