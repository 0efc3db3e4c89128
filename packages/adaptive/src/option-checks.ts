import { check } from '@doorman/semaphore/internal';
import type { WindowOptions } from './windowed-controller.js';

const { show } = check;

/** A finite number strictly between `low` and `high` (either may be Infinity). */
export function numberBetween(name: string, value: unknown, low: number, high: number): number {
  const range = high === Number.POSITIVE_INFINITY ? `> ${low}` : `> ${low} and < ${high}`;
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`${name}\` to be a number ${range}, got ${show(value)}`);
  }
  if (!(value > low && value < high)) {
    throw new RangeError(`Expected \`${name}\` to be a number ${range}, got ${show(value)}`);
  }
  return value;
}

/** The options object of an algorithm factory: undefined or a plain object with known keys. */
export function algorithmOptions(
  name: string,
  value: unknown,
  known: ReadonlySet<string>,
): Record<string, unknown> {
  if (value === undefined) return {};
  const o = check.plainObject(`${name} options`, value);
  check.knownKeys(`${name} options`, o, known);
  return o;
}

/** The settings every built-in algorithm takes, besides its own. */
export interface CommonAlgorithmOptions {
  /** Fewest samples per window (a window is also at least 2x the limit). Default 20. */
  minWindow?: number;
  /** How many windows back the no-load latency is remembered. Default 50. */
  minLatencyWindows?: number;
  /**
   * Windows between two re-measures of the no-load
   * latency (one window at half the limit); `Infinity` never re-measures. Default 50.
   */
  remeasureEvery?: number;
}

export const commonKeys = ['minWindow', 'minLatencyWindows', 'remeasureEvery'] as const;

export function windowOptions(o: Record<string, unknown>): WindowOptions {
  return {
    minWindow:
      o['minWindow'] === undefined ? 20 : check.integerAtLeast('minWindow', o['minWindow'], 1),
    minLatencyWindows:
      o['minLatencyWindows'] === undefined
        ? 50
        : check.integerAtLeast('minLatencyWindows', o['minLatencyWindows'], 1),
    remeasureEvery:
      o['remeasureEvery'] === undefined
        ? 50
        : check.countOrInfinity('remeasureEvery', o['remeasureEvery'], 1),
  };
}
