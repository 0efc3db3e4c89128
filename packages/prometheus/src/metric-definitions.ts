import { type LimiterStats, rejectionReasons } from '@doorman/semaphore';

/**
 * One metric family that registerMetrics exports for each limiter. Gauges and
 * counters are read from the limiter at scrape time by `read`; the wait
 * histogram is fed by the limiter's `onWait` listener instead (see
 * wait-histogram.ts), so its entry has no reader.
 *
 * A limiter contributes an optional value by exposing it (e.g. a counter
 * under `counters`, or a getter); its definition's reader returns
 * `undefined` for limiters that lack it. Such a family is registered only
 * while at least one of the set's limiters has it, and lists only those.
 */
export type MetricDefinition = ReadDefinition | HistogramDefinition;

interface Described {
  /** The name after the prefix, e.g. `'permits_in_use'`. */
  readonly suffix: string;
  readonly help: string;
}

export interface ReadDefinition extends Described {
  readonly type: 'gauge' | 'counter';
  /**
   * An extra label whose values each get a series, e.g. rejections by
   * `reason`: `read` is then called once per value, in this order.
   */
  readonly split?: { readonly label: string; readonly values: readonly string[] };
  /**
   * The value now, or `undefined` when this limiter does not have it (no
   * sample for it). `value` is the `split` label's value, if any.
   */
  readonly read: (limiter: LimiterStats, value: string | undefined) => number | undefined;
  /** False: exported for every limiter. True: only for the limiters whose reader gives a number. */
  readonly optional: boolean;
  /**
   * For an optional value a limiter may have before it has a number for it
   * (an estimate not learned yet): true if this limiter has it at all. Its
   * series then appears once `read` gives a number. Default: `read` gives one now.
   */
  readonly has?: (limiter: LimiterStats) => boolean;
}

export interface HistogramDefinition extends Described {
  readonly type: 'histogram';
  readonly optional: false;
}

/** A count that only grows: anything else (missing, negative, NaN) reads as 0. */
function count(value: unknown): number {
  return typeof value === 'number' && value >= 0 && value < Number.POSITIVE_INFINITY ? value : 0;
}

/** A count a limiter may or may not keep: `undefined` when it does not. */
function optionalCount(value: unknown): number | undefined {
  return typeof value === 'number' ? count(value) : undefined;
}

type ExtraCounters = Record<string, unknown> | undefined;

/** A duration in ms a limiter may expose as `key`, in seconds; `undefined` until it is a number. */
function optionalSeconds(limiter: LimiterStats, key: string): number | undefined {
  const ms = (limiter as unknown as Record<string, unknown>)[key];
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

/** A live number a limiter may or may not have (e.g. a keyed limiter's keys): `undefined` when it does not. */
function optionalGauge(limiter: LimiterStats, name: string): number | undefined {
  const value = (limiter as unknown as Record<string, unknown>)[name];
  return typeof value === 'number' && value >= 0 && value < Number.POSITIVE_INFINITY
    ? value
    : undefined;
}

/**
 * Every metric, in the order they are registered (and so exposed). New
 * metrics are added here; nothing else in the package needs to know them.
 */
export const metricDefinitions: readonly MetricDefinition[] = Object.freeze([
  {
    suffix: 'permits_in_use',
    type: 'gauge',
    help: 'Units of the limit held now (in this process, for a distributed limiter).',
    optional: false,
    read: (limiter) => limiter.inUse,
  },
  {
    suffix: 'permits_limit',
    type: 'gauge',
    help: 'Most units of the limit that may be held at once.',
    optional: false,
    read: (limiter) => limiter.limit,
  },
  {
    suffix: 'waiters',
    type: 'gauge',
    help: 'Acquirers waiting in the queue now (in this process, for a distributed limiter).',
    optional: false,
    read: (limiter) => limiter.waiting,
  },
  {
    suffix: 'acquired_total',
    type: 'counter',
    help: 'Permits granted since the limiter was made, at once or after waiting.',
    optional: false,
    read: (limiter) => count(limiter.counters.acquired),
  },
  {
    suffix: 'rejected_total',
    type: 'counter',
    help: 'Acquires refused since the limiter was made, by reason: queue_full, timeout, aborted, closed, unavailable.',
    optional: false,
    split: { label: 'reason', values: rejectionReasons },
    read: (limiter, reason) =>
      count((limiter.counters.rejected as ExtraCounters)?.[reason as string]),
  },
  {
    suffix: 'wait_seconds',
    type: 'histogram',
    help: 'Time admitted acquirers waited in the queue, in seconds (0 when admitted at once).',
    optional: false,
  },
  {
    suffix: 'leases_lost_total',
    type: 'counter',
    help: 'Permits of a distributed limiter whose lease ran out before release: the shared store stopped counting them.',
    optional: true,
    read: (limiter) =>
      optionalCount((limiter.counters as unknown as ExtraCounters)?.['leasesLost']),
  },
  {
    suffix: 'fail_open_total',
    type: 'counter',
    help: 'Permits a distributed limiter granted without its shared store (failOpen while the store was unreachable).',
    optional: true,
    read: (limiter) => optionalCount((limiter.counters as unknown as ExtraCounters)?.['failOpen']),
  },
  {
    suffix: 'adaptive_min_latency_seconds',
    type: 'gauge',
    help: 'Adaptive limiters only: the latency the algorithm believes the work takes without load, in seconds.',
    optional: true,
    has: (limiter) => 'minLatencyMs' in limiter,
    read: (limiter) => optionalSeconds(limiter, 'minLatencyMs'),
  },
  {
    suffix: 'adaptive_latency_seconds',
    type: 'gauge',
    help: 'Adaptive limiters only: the latency the algorithm measured last (median of its last window of samples), in seconds.',
    optional: true,
    has: (limiter) => 'latencyMs' in limiter,
    read: (limiter) => optionalSeconds(limiter, 'latencyMs'),
  },
  {
    suffix: 'permits_total_limit',
    type: 'gauge',
    help: 'Most units all keys of a per-key limiter may hold together (its totalLimit).',
    optional: true,
    read: (limiter) => optionalGauge(limiter, 'totalLimit'),
  },
  {
    suffix: 'keys_active',
    type: 'gauge',
    help: 'Keys (tenants) of a per-key limiter holding a permit or waiting now.',
    optional: true,
    read: (limiter) => optionalGauge(limiter, 'activeKeys'),
  },
  {
    suffix: 'keys_waiting',
    type: 'gauge',
    help: 'Keys (tenants) of a per-key limiter with at least one acquirer waiting now.',
    optional: true,
    read: (limiter) => optionalGauge(limiter, 'waitingKeys'),
  },
] satisfies MetricDefinition[]);

/** The label names a definition adds itself (and so cannot be static labels). */
export const splitLabels: ReadonlySet<string> = new Set(
  metricDefinitions.flatMap((d) => (d.type !== 'histogram' && d.split ? [d.split.label] : [])),
);
