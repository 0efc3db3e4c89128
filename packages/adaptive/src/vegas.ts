import type { LimitAlgorithm, LimitBounds } from './algorithm.js';
import {
  algorithmOptions,
  type CommonAlgorithmOptions,
  commonKeys,
  numberBetween,
  windowOptions,
} from './option-checks.js';
import { WindowedController, type WindowOptions } from './windowed-controller.js';

export interface VegasOptions extends CommonAlgorithmOptions {
  /** Below `alpha x log10(limit)` estimated queued units the limit grows. Default 3. */
  alpha?: number;
  /** Above `beta x log10(limit)` estimated queued units the limit shrinks. Default 6. */
  beta?: number;
}

const keys: ReadonlySet<string> = new Set(['alpha', 'beta', ...commonKeys]);

interface VegasSettings extends WindowOptions {
  readonly alpha: number;
  readonly beta: number;
}

/**
 * TCP Vegas's estimate of the queue: of `limit` units in flight,
 * `limit x (1 - noLoad / median)` are waiting rather than being worked on
 * (Little's law). It keeps that queue between `alpha` and `beta` (scaled by
 * log10 of the limit, so large limits may queue more), moving by
 * `log10(limit)` (at least 1) a window, and steps down the same on drops.
 * Far over `beta` it steps down by half the excess queue at once, so a
 * collapse does not take minutes of single steps to leave.
 * It aims for a small standing queue, so it settles a little above the knee
 * and changes slowly: steady, at some cost in latency.
 */
class VegasController extends WindowedController {
  constructor(
    bounds: LimitBounds,
    private readonly settings: VegasSettings,
  ) {
    super(bounds, settings);
  }

  protected decide(median: number, base: number): number {
    const limit = this.limit;
    const log = Math.max(1, Math.log10(limit));
    const step = Math.max(1, Math.round(log));
    if (this.window.dropped > 0 || Number.isNaN(median)) return limit - step;
    const queued = limit * (1 - base / median);
    // Far over beta, step down by half the excess: a log10 step takes
    // minutes to leave a collapse (every window is many slow round trips).
    const excess = queued - this.settings.beta * log;
    if (excess > 0) return limit - Math.max(step, excess / 2);
    if (queued < this.settings.alpha * log && this.nearLimit()) return limit + step;
    return limit;
  }
}

/** A Vegas algorithm with its own settings (`vegas` is the one with the defaults). */
export function createVegas(options?: VegasOptions): LimitAlgorithm {
  const o = algorithmOptions('vegas', options, keys);
  const alpha =
    o['alpha'] === undefined ? 3 : numberBetween('alpha', o['alpha'], 0, Number.POSITIVE_INFINITY);
  const beta =
    o['beta'] === undefined ? 6 : numberBetween('beta', o['beta'], alpha, Number.POSITIVE_INFINITY);
  const settings: VegasSettings = {
    alpha,
    beta,
    ...windowOptions(o),
  };
  return Object.freeze({
    name: 'vegas',
    create: (bounds: LimitBounds) => new VegasController(bounds, settings),
  });
}

/** Vegas with default settings. */
export const vegas: LimitAlgorithm = createVegas();
