/** Most samples one window holds; a window asks for fewer at small limits. */
export const maxWindowSamples = 256;

/**
 * The samples of one decision: the algorithms decide once per full window,
 * on its median latency, its share of drops and the most units it saw in
 * flight, never on a single sample (one slow request must not move a limit).
 *
 * Samples of work admitted before the limit last changed are left out: they
 * ran under the old limit and say nothing about the new one.
 *
 * One preallocated buffer for the whole life of the limiter: adding a sample
 * writes two numbers; the median sorts the filled part once per window.
 */
export class SampleWindow {
  private readonly latencies = new Float64Array(maxWindowSamples);
  /** Samples counted in this window (drops included). */
  count = 0;
  /** Latencies kept: those of the samples that were not dropped. */
  kept = 0;
  dropped = 0;
  /** The most units held at any admission in this window. */
  maxInFlight = 0;
  /** How many samples make this window full. */
  size: number;
  /** Samples admitted before this time (the last limit change) are left out. */
  private since = Number.NEGATIVE_INFINITY;
  /** Latency that raises the alarm: far above the no-load latency. */
  private alarmAbove = Number.POSITIVE_INFINITY;
  private alarms = 0;

  constructor(size: number) {
    this.size = Math.min(maxWindowSamples, Math.max(1, size));
  }

  /** Adds a sample; true once the window is full and ready for a decision. */
  add(rttMs: number, inFlight: number, dropped: boolean, nowMs: number): boolean {
    if (nowMs - rttMs < this.since) return false;
    this.count++;
    if (dropped) this.dropped++;
    else this.latencies[this.kept++] = rttMs;
    if (inFlight > this.maxInFlight) this.maxInFlight = inFlight;
    if (rttMs > this.alarmAbove) this.alarms++;
    // A quarter of a window far over the no-load latency is evidence enough:
    // waiting for the rest would leave a collapsed service crowded for seconds.
    return this.count >= this.size || this.alarms >= Math.max(3, this.size >> 2);
  }

  /**
   * How far the median may be off by chance alone, in ms: its standard error
   * estimated from the spread of the samples (interquartile range), set by
   * `median()`. Large on a noisy host, near 0 on a steady one.
   */
  medianError = 0;

  /** The median latency of the kept samples (NaN if all were dropped). Sorts them in place. */
  median(): number {
    const n = this.kept;
    if (n === 0) return Number.NaN;
    const sorted = this.latencies.subarray(0, n).sort();
    const mid = n >> 1;
    const iqr = (sorted[(3 * n) >> 2] as number) - (sorted[n >> 2] as number);
    // For a normal spread, sigma = IQR / 1.35 and the median's error is 1.25 sigma / sqrt(n).
    this.medianError = (0.93 * iqr) / Math.sqrt(n);
    return n % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  }

  /**
   * Starts the next window of `size` samples. `changedAt` (the time the limit
   * changed, if it did) drops the samples of work admitted before it. Once a
   * quarter of `size` samples took longer than `alarmAbove`, the window ends early.
   */
  reset(size: number, changedAt?: number, alarmAbove = Number.POSITIVE_INFINITY): void {
    this.count = 0;
    this.alarms = 0;
    this.alarmAbove = alarmAbove;
    this.kept = 0;
    this.dropped = 0;
    this.maxInFlight = 0;
    this.size = Math.min(maxWindowSamples, Math.max(1, size));
    if (changedAt !== undefined) this.since = changedAt;
  }
}
