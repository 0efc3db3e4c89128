import { check } from '@doorman/semaphore/internal';
import type { LimitAlgorithm, LimitBounds } from './algorithm.js';
import {
  algorithmOptions,
  type CommonAlgorithmOptions,
  commonKeys,
  numberBetween,
  windowOptions,
} from './option-checks.js';
import { WindowedController, type WindowOptions } from './windowed-controller.js';

export interface Gradient2Options extends CommonAlgorithmOptions {
  /**
   * How far the window's median latency may rise above the no-load latency
   * before the limit comes down: 1.15 lets it run 15% slower. Lower finds the
   * knee more exactly on a steady service; higher forgives a noisy one.
   * Default 1.15.
   */
  tolerance?: number;
  /** The limit is multiplied by this after a window with drops. Default 0.9. */
  backoff?: number;
  /**
   * Between two tries above the limit where latency last rose: this many
   * windows' worth of healthy samples (2 x the limit each). Default 12.
   */
  probeEvery?: number;
}

const keys: ReadonlySet<string> = new Set(['tolerance', 'backoff', 'probeEvery', ...commonKeys]);

interface Gradient2Settings extends WindowOptions {
  readonly tolerance: number;
  readonly backoff: number;
  readonly probeEvery: number;
}

/**
 * The gradient of latency, window by window: while the median latency stays
 * within `tolerance` of the no-load latency and the limit is used, the limit
 * grows; once it rises past it, the limit is scaled by
 * `tolerance x noLoad / median` (by half at most), in one step, to where the
 * latency says the knee is.
 *
 * What it adds to Netflix's Gradient2: it grows only when the window saw the
 * limit used (no drift while idle or app-limited); the no-load latency is
 * re-learned over a moving horizon (see `MinLatency`) instead of a slowly
 * drifting long-term average that follows sustained overload up; it
 * remembers where latency last rose (the plateau) and tries above it only
 * after `probeEvery` windows' worth of healthy samples, so it sits at the
 * knee instead of oscillating across it; a cut that leaves latency where it
 * was means the crowd is not the cause (it re-learns the no-load latency and
 * holds, instead of cutting to the floor); thresholds allow for the chance
 * error of a window's median, so a noisy host does not ratchet it down; below the plateau, or once a try above it stays healthy (the
 * service got faster), it grows by 10% a window to recover quickly.
 */
class Gradient2Controller extends WindowedController {
  private plateau = Number.POSITIVE_INFINITY;
  private healthySinceProbe = 0;
  /** The median that made the last cut for latency; 0 when the last window did not cut. */
  private cutAt = 0;
  /** The last window was over tolerance, but not enough to act on one window alone. */
  private suspect = false;

  constructor(
    bounds: LimitBounds,
    private readonly settings: Gradient2Settings,
  ) {
    super(bounds, settings);
  }

  protected decide(median: number, base: number): number {
    const limit = this.limit;
    if (this.window.dropped > 0 || Number.isNaN(median)) {
      this.cutAt = 0;
      this.suspect = false;
      this.plateau = limit;
      this.healthySinceProbe = 0;
      return Math.min(limit - 1, limit * this.settings.backoff);
    }
    // Latency above what noise alone explains: tolerance, plus twice the
    // chance error of a window's median, thrice (a busy event loop, a shared host).
    const ratio = median / (base + 3 * this.noiseMs);
    if (ratio > this.settings.tolerance) {
      // The last cut left latency where it was (within chance): the crowd is
      // not what makes it slow (a busier host, slower work). Take this
      // latency as the no-load one and hold, instead of cutting to the floor.
      // (Latency that rose after a cut is load getting worse: keep cutting.)
      const cutAt = this.cutAt;
      this.cutAt = 0;
      if (cutAt > 0 && Math.abs(cutAt - median) <= Math.max(0.03 * cutAt, 3 * this.noiseMs)) {
        this.relearnMinLatency(median);
        return limit;
      }
      // One slow window may be the host stalling (a long GC, a busy
      // neighbour), which slows every request in flight at once: hold, and
      // cut when the next window says so too. Far over (4x) is load: cut now.
      if (cutAt === 0 && !this.suspect && ratio < 4) {
        this.suspect = true;
        this.unsure = true;
        return limit;
      }
      this.suspect = false;
      this.cutAt = median;
      this.plateau = limit;
      this.healthySinceProbe = 0;
      const gradient = Math.max(0.5, this.settings.tolerance / ratio);
      return Math.min(limit - 1, limit * gradient);
    }
    this.cutAt = 0;
    this.suspect = false;
    // A healthy window at or above the plateau: whatever held it there is gone.
    if (limit >= this.plateau) this.plateau = Number.POSITIVE_INFINITY;
    if (!this.nearLimit()) return limit;
    if (limit + 1 >= this.plateau) {
      // Counted in samples, about `probeEvery` windows of two round trips:
      // at a small limit a window is many round trips, and counting windows
      // would leave it there for long.
      this.healthySinceProbe += this.window.count;
      if (this.healthySinceProbe < this.settings.probeEvery * 2 * limit) return limit;
      this.healthySinceProbe = 0;
      return limit + 1;
    }
    return Math.min(this.plateau - 1, limit + Math.max(1, Math.floor(limit / 10)));
  }

  /** Latency fell at half the limit by more than `tolerance`: the limit was above the knee. */
  protected override afterRemeasure(
    limitBefore: number,
    latencyBefore: number,
    latencyAtHalf: number,
  ): number {
    const ratio = latencyBefore / (latencyAtHalf + 3 * this.noiseMs);
    if (!(ratio > this.settings.tolerance)) return limitBefore;
    this.plateau = limitBefore;
    return Math.max(this.limit, (limitBefore * this.settings.tolerance) / ratio);
  }
}

/** A gradient2 algorithm with its own settings (`gradient2` is the one with the defaults). */
export function createGradient2(options?: Gradient2Options): LimitAlgorithm {
  const o = algorithmOptions('gradient2', options, keys);
  const settings: Gradient2Settings = {
    tolerance:
      o['tolerance'] === undefined
        ? 1.15
        : numberBetween('tolerance', o['tolerance'], 1, Number.POSITIVE_INFINITY),
    backoff: o['backoff'] === undefined ? 0.9 : numberBetween('backoff', o['backoff'], 0, 1),
    probeEvery:
      o['probeEvery'] === undefined ? 12 : check.integerAtLeast('probeEvery', o['probeEvery'], 1),
    ...windowOptions(o),
  };
  return Object.freeze({
    name: 'gradient2',
    create: (bounds: LimitBounds) => new Gradient2Controller(bounds, settings),
  });
}

/** The default algorithm of `AdaptiveSemaphore`, with default settings. */
export const gradient2: LimitAlgorithm = createGradient2();
