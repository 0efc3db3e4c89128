import type { LimitBounds, LimitController } from './algorithm.js';
import { MinLatency } from './min-latency.js';
import { SampleWindow } from './sample-window.js';

/** What every built-in algorithm shares: windows of samples, the no-load latency, the bounds. */
export interface WindowOptions {
  /** Fewest samples in a window. The window also holds at least 2x the limit. */
  readonly minWindow: number;
  /** How many windows back the no-load latency is remembered. */
  readonly minLatencyWindows: number;
  /** Windows between two re-measures at half the limit (Infinity: never). */
  readonly remeasureEvery: number;
}

/**
 * The part of the built-in controllers that is not the decision: it fills a
 * window, learns the no-load latency from the window medians, and after each
 * full window asks `decide()` for an integer limit, clamped to the bounds.
 *
 * The no-load latency cannot be seen while the limit sits above the knee
 * (every window is crowded, and a limit that starts there never sees it). So
 * now and then (at most every `remeasureEvery` windows), if the limit was
 * used, one window runs at half the limit: if latency falls by more than
 * noise, the limit was crowding the work; if not, what half the limit
 * measured is the no-load latency now. That costs half the throughput for one
 * window in `remeasureEvery` (about 1% at the default of 50), where Envoy
 * pins concurrency to a small floor for a whole measurement.
 *
 * A window spans about two round trips whatever the limit (2x limit samples),
 * so decisions come as fast at a limit of 5 as at 500.
 */
export abstract class WindowedController implements LimitController {
  protected limit: number;
  protected readonly minLimit: number;
  protected readonly maxLimit: number;
  protected readonly window: SampleWindow;
  private readonly minLatency: MinLatency;
  private readonly minWindow: number;
  private readonly remeasureEvery: number;
  /** Median of the last full window with successes. */
  latencyMs: number | undefined = undefined;
  /**
   * How much a window's median wobbles by chance, in ms: a moving average of
   * each window's standard error of the median. Thresholds allow a few of it,
   * so a noisy host does not read as overload and ratchet the limit down.
   */
  protected noiseMs = 0;
  /** Set by `decide()` when it holds only to look again: no re-measure on such a window. */
  protected unsure = false;
  /** Windows since the last re-measure. */
  private sinceRemeasure = 0;
  /**
   * Windows before the next re-measure: 1 at first and after a re-measure
   * that found the limit too high (a limit far above the knee is halved
   * window after window), doubling up to `remeasureEvery` while the
   * re-measures find nothing.
   */
  private remeasureAfter: number;
  /** The limit before a re-measure window; 0 when not re-measuring. */
  private probeFrom = 0;
  private probeFromLatency = 0;

  constructor(bounds: LimitBounds, options: WindowOptions) {
    this.limit = bounds.initialLimit;
    this.minLimit = bounds.minLimit;
    this.maxLimit = bounds.maxLimit;
    this.minWindow = options.minWindow;
    this.remeasureEvery = options.remeasureEvery;
    this.remeasureAfter = Math.min(1, options.remeasureEvery);
    this.minLatency = new MinLatency(options.minLatencyWindows);
    this.window = new SampleWindow(this.windowSize());
  }

  get minLatencyMs(): number | undefined {
    const value = this.minLatency.value;
    return Number.isNaN(value) ? undefined : value;
  }

  onSample(rttMs: number, inFlight: number, dropped: boolean, nowMs: number): number {
    if (!this.window.add(rttMs, inFlight, dropped, nowMs)) return this.limit;
    const median = this.window.median();
    let base = Number.NaN;
    if (!Number.isNaN(median)) {
      this.latencyMs = median;
      base = this.minLatency.push(median);
      // A spread wider than a quarter of the no-load latency is the crowd
      // changing within the window, not chance.
      const error = Math.min(this.window.medianError, 0.25 * base);
      this.noiseMs += 0.2 * (error - this.noiseMs);
    }
    let wanted: number;
    if (this.probeFrom !== 0) {
      const from = this.probeFrom;
      const before = this.probeFromLatency;
      this.probeFrom = 0;
      const margin = Math.max(0.05 * before, 3 * this.noiseMs);
      if (!Number.isNaN(median) && median - before > margin) {
        // Slower at half the limit than at the whole: something changed
        // meanwhile (a step in load or capacity). Judge this window as any
        // other, at the limit it ran at, and look again soon.
        wanted = this.decide(median, base);
        this.remeasureAfter = 1;
      } else {
        wanted = this.afterRemeasure(from, before, median);
        const cut = wanted < from || Number.isNaN(median);
        // Latency did not fall at half the limit: what it measured is the
        // no-load latency now, even if an older, lower one is on record (the
        // host got busier, the work slower), which would read every window
        // as overload. Had it fallen, half the limit may still be crowded.
        if (!cut && before - median <= margin) this.minLatency.reset(median);
        // The limit was cut: look again soon; else less and less often, down
        // to once in remeasureEvery windows.
        this.remeasureAfter = cut ? 1 : Math.min(this.remeasureEvery, 2 * this.remeasureAfter);
      }
    } else {
      // At the lowest limit allowed there is no less crowded latency to
      // compare with: this window is the no-load latency.
      if (this.limit === this.minLimit && !Number.isNaN(median)) {
        this.minLatency.reset(median);
        base = median;
      }
      this.unsure = false;
      wanted = this.decide(median, base);
      // Not while the algorithm is bringing the limit down, or unsure of it.
      if (
        ++this.sinceRemeasure >= this.remeasureAfter &&
        wanted >= this.limit &&
        !this.unsure &&
        this.window.dropped === 0 &&
        this.nearLimit()
      ) {
        this.sinceRemeasure = 0;
        const half = Math.max(this.minLimit, Math.ceil(this.limit / 2));
        if (half < this.limit && !Number.isNaN(median)) {
          this.probeFrom = this.limit;
          this.probeFromLatency = median;
          wanted = half;
        }
      }
    }
    const next = Math.min(this.maxLimit, Math.max(this.minLimit, Math.round(wanted)));
    const changed = next !== this.limit;
    this.limit = next;
    this.window.reset(
      this.windowSize(),
      changed ? nowMs : undefined,
      Number.isNaN(base) ? undefined : 3 * base,
    );
    return next;
  }

  /**
   * The limit wanted after a full window (`this.window`), whose median
   * latency of successes is `median` (NaN if every sample was dropped) and
   * `base` the no-load latency learned so far.
   */
  protected abstract decide(median: number, base: number): number;

  /** The no-load latency is `latencyMs` from now on: it was measured without crowding. */
  protected relearnMinLatency(latencyMs: number): void {
    this.minLatency.reset(latencyMs);
  }

  /**
   * After a re-measure window at half the limit: `latencyBefore` was the
   * median at `limitBefore`, `latencyAtHalf` the median just measured (NaN
   * if all dropped). The no-load latency has already learned from it. By
   * default the limit goes back to where it was, and the next window judges
   * it against what was learned.
   */
  protected afterRemeasure(
    limitBefore: number,
    _latencyBefore: number,
    _latencyAtHalf: number,
  ): number {
    return limitBefore;
  }

  /** True if the window saw the limit used: growing an unused limit only makes it meaningless. */
  protected nearLimit(): boolean {
    return this.window.maxInFlight >= Math.ceil(0.8 * this.limit);
  }

  private windowSize(): number {
    // Until there is a no-load latency to compare with, a short first window.
    if (Number.isNaN(this.minLatency.value)) return this.minWindow;
    return Math.max(this.minWindow, 2 * this.limit);
  }
}
