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

export interface AimdOptions extends CommonAlgorithmOptions {
  /**
   * A window whose median latency is above this many times the no-load
   * latency counts as overloaded, as a drop does. Default 2.
   */
  tolerance?: number;
  /**
   * A window whose median latency is above this, in ms, counts as overloaded
   * too, whatever the no-load latency. Default: no such bound.
   */
  maxLatencyMs?: number;
  /** The limit is multiplied by this after an overloaded window. Default 0.9. */
  backoff?: number;
}

const keys: ReadonlySet<string> = new Set(['tolerance', 'maxLatencyMs', 'backoff', ...commonKeys]);

interface AimdSettings extends WindowOptions {
  readonly tolerance: number;
  readonly maxLatencyMs: number;
  readonly backoff: number;
}

/**
 * Additive increase, multiplicative decrease, as TCP Reno: +1 after each
 * healthy window in which the limit was used, x `backoff` after a window with
 * drops or with latency past its bound. It reacts to errors first and to
 * latency only once it is far off (2x by default), so it settles above the
 * knee; it is the one to choose when latency says little about load (work of
 * very different sizes) and errors say more.
 */
class AimdController extends WindowedController {
  constructor(
    bounds: LimitBounds,
    private readonly settings: AimdSettings,
  ) {
    super(bounds, settings);
  }

  protected decide(median: number, base: number): number {
    const limit = this.limit;
    const overloaded =
      this.window.dropped > 0 ||
      Number.isNaN(median) ||
      median > this.settings.tolerance * (base + 3 * this.noiseMs) ||
      median > this.settings.maxLatencyMs;
    if (overloaded) return Math.min(limit - 1, limit * this.settings.backoff);
    return this.nearLimit() ? limit + 1 : limit;
  }
}

/** An AIMD algorithm with its own settings (`aimd` is the one with the defaults). */
export function createAimd(options?: AimdOptions): LimitAlgorithm {
  const o = algorithmOptions('aimd', options, keys);
  const settings: AimdSettings = {
    tolerance:
      o['tolerance'] === undefined
        ? 2
        : numberBetween('tolerance', o['tolerance'], 1, Number.POSITIVE_INFINITY),
    maxLatencyMs:
      o['maxLatencyMs'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.duration('maxLatencyMs', o['maxLatencyMs']),
    backoff: o['backoff'] === undefined ? 0.9 : numberBetween('backoff', o['backoff'], 0, 1),
    ...windowOptions(o),
  };
  return Object.freeze({
    name: 'aimd',
    create: (bounds: LimitBounds) => new AimdController(bounds, settings),
  });
}

/** AIMD with default settings. */
export const aimd: LimitAlgorithm = createAimd();
