/**
 * The no-load latency an algorithm compares against: the lowest window median
 * of the last `horizon` windows.
 *
 * An all-time minimum (Vegas, Gradient) is never re-measured: once the work
 * gets slower for good (a colder cache, a bigger payload), every window looks
 * overloaded and the limit sinks to its floor. Envoy re-measures by pinning
 * concurrency low for a while, which costs latency and throughput each time.
 * A moving horizon re-measures for free: a controller that lowers its limit
 * whenever latency rises keeps visiting the uncrowded latency, which keeps
 * the minimum fresh; if it cannot find it within `horizon` windows, the work
 * itself got slower and the old minimum expires. The controller also resets
 * it when it measures the latency without crowding directly (see
 * WindowedController): at half the limit, or at the lowest limit allowed.
 */
export class MinLatency {
  private readonly medians: Float64Array;
  private next = 0;
  private filled = 0;
  /** NaN until the first window. */
  value = Number.NaN;

  constructor(readonly horizon: number) {
    this.medians = new Float64Array(horizon);
  }

  /** Forgets the windows so far: the no-load latency is `median` from now on. */
  reset(median: number): void {
    this.medians[0] = median;
    this.next = 1 % this.horizon;
    this.filled = 1;
    this.value = median;
  }

  push(median: number): number {
    this.medians[this.next] = median;
    this.next = (this.next + 1) % this.horizon;
    if (this.filled < this.horizon) this.filled++;
    // Once per window, not per request: a scan of a few dozen numbers.
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.filled; i++) {
      const m = this.medians[i] as number;
      if (m < min) min = m;
    }
    this.value = min;
    return min;
  }
}
