import { type LimiterStats, type RejectionReason, rejectionReasons } from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';
import {
  Counter,
  register as defaultRegistry,
  Gauge,
  type Registry,
  type RegistryContentType,
} from 'prom-client';
import { parseOptions, type RegistryLike } from './options.js';

const { show } = check;

import { WaitHistogram } from './wait-histogram.js';

export { rejectionReasons };

/** The six metric names, after the prefix, in the order they are made. */
export const metricSuffixes = Object.freeze([
  'permits_in_use',
  'permits_limit',
  'waiters',
  'acquired_total',
  'rejected_total',
  'wait_seconds',
] as const);

/** A limiter, or a middleware carrying one as `.limiter` (as both adapters return). */
export type MetricsSource = LimiterStats | { readonly limiter: LimiterStats };

export interface RegisterMetricsOptions {
  /** Where the metrics go. Default: prom-client's default `register`. */
  registry?: Registry<RegistryContentType>;
  /** Put before every metric name. Default `'doorman_'`. */
  prefix?: string;
  /** Static labels added to every series of these limiters, e.g. `{ service: 'api' }`. */
  labels?: Record<string, string | number>;
  /** Upper bounds of the wait histogram, in seconds. Default: `defaultWaitBuckets`. */
  buckets?: readonly number[];
}

/** Removes what one `registerMetrics` call added. Calling it again does nothing. */
export type UnregisterMetrics = () => void;

type Labels = Readonly<Record<string, string>>;

/** One limiter on one metric set: its labels and its wait-time buckets. */
export interface Series {
  readonly limiter: LimiterStats;
  readonly labels: Labels;
  /** The label set as text: two series with the same identity would collide. */
  readonly identity: string;
  /** `labels` plus each `reason`, in the order of `rejectionReasons`. */
  readonly reasonLabels: readonly Labels[];
  /**
   * Non-cumulative counts per bucket (the last is above every bound), then
   * the sum of waits in seconds. Written by the wait listener, read at scrape.
   */
  readonly waits: Float64Array;
  readonly stopWaits: () => void;
  /** How many live registrations hold this series. */
  holders: number;
}

/** The six metrics of one (registry, prefix), and the limiters they report. */
interface MetricSet {
  readonly registry: RegistryLike;
  readonly prefix: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
  readonly bySource: Map<LimiterStats, Series>;
  readonly byIdentity: Map<string, Series>;
  /** Each metric with its full name (prom-client's types do not show `name`). */
  readonly metrics: ReadonlyArray<{ readonly name: string; readonly metric: object }>;
}

// State is kept per registry, under a global symbol, so that two copies of
// this package in one app (its ESM and its CommonJS build) share it and do
// not trip over each other's metrics on the default registry.
type State = WeakMap<object, Map<string, MetricSet>>;
const stateKey = Symbol.for('@doorman/prometheus/state@1');
const global = globalThis as { [stateKey]?: State };
global[stateKey] ??= new WeakMap();
const state: State = global[stateKey];

/**
 * Exports the live numbers of limiters as Prometheus metrics on a prom-client
 * registry. Accepts one or many limiters, or middlewares carrying `.limiter`.
 * Gauges and counters are read from the limiters at scrape time; wait times
 * are counted as admissions happen, into preallocated buckets.
 *
 * Any number of calls may share a registry. A limiter registered again is
 * counted once; two different limiters with the same `name` (and `labels`)
 * are refused, since their series would collide. The returned function
 * removes this call's limiters, and the metrics themselves once none remain.
 */
export function registerMetrics(
  sources: MetricsSource | readonly MetricsSource[],
  options?: RegisterMetricsOptions,
): UnregisterMetrics {
  const parsed = parseOptions(options);
  const registry = parsed.registry ?? (defaultRegistry as unknown as RegistryLike);
  const limiters = toLimiters(sources);

  let sets = state.get(registry);
  let set = sets?.get(parsed.prefix);
  if (set !== undefined) checkCompatible(set, parsed.labelNames, parsed.buckets);

  // Check every limiter before changing anything, so a refused call leaves no trace.
  const plans: Array<{ limiter: LimiterStats; labels: Labels; identity: string }> = [];
  const identities = new Map<string, LimiterStats>();
  for (const limiter of limiters) {
    const labels: Labels = { limiter: limiter.name, ...parsed.labels };
    const identity = identityOf(labels);
    const held = set?.bySource.get(limiter);
    if (held !== undefined && held.identity !== identity) {
      throw new Error(
        `Limiter "${limiter.name}" is already registered on this registry (prefix "${parsed.prefix}") with labels ${showLabels(held.labels)}; registering it again with ${showLabels(labels)} would count it twice`,
      );
    }
    const other = set?.byIdentity.get(identity)?.limiter ?? identities.get(identity);
    if (other !== undefined && other !== limiter) {
      throw new Error(
        `Two different limiters are named "${limiter.name}" on this registry (prefix "${parsed.prefix}"), with labels ${showLabels(labels)}: their series would collide. Give each its own \`name\` option, or register them with different \`labels\`.`,
      );
    }
    identities.set(identity, limiter);
    plans.push({ limiter, labels, identity });
  }
  if (plans.length === 0) return () => {};

  if (set !== undefined) ensureRegistered(set);
  else {
    set = createSet(registry, parsed.prefix, parsed.labelNames, parsed.buckets);
    if (sets === undefined) {
      sets = new Map();
      state.set(registry, sets);
    }
    sets.set(parsed.prefix, set);
  }

  const held: Series[] = [];
  for (const plan of plans) {
    let series = set.bySource.get(plan.limiter);
    if (series === undefined) {
      series = createSeries(set, plan.limiter, plan.labels, plan.identity);
      set.bySource.set(plan.limiter, series);
      set.byIdentity.set(plan.identity, series);
    }
    series.holders++;
    held.push(series);
  }

  const owner = set;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const series of held) {
      if (--series.holders > 0) continue;
      series.stopWaits();
      owner.bySource.delete(series.limiter);
      owner.byIdentity.delete(series.identity);
    }
    if (owner.bySource.size === 0) removeSet(owner);
  };
}

function toLimiters(sources: unknown): LimiterStats[] {
  const list = Array.isArray(sources) ? sources : [sources];
  const seen = new Set<LimiterStats>();
  list.forEach((source, index) => {
    const limiter = limiterOf(source);
    if (limiter === undefined) {
      const where = Array.isArray(sources) ? `\`limiters[${index}]\`` : '`limiters`';
      throw new TypeError(
        `Expected ${where} to be a limiter (name, limit, inUse, waiting, counters, onWait) or a middleware with \`.limiter\`, got ${show(source)}`,
      );
    }
    seen.add(limiter);
  });
  return [...seen];
}

// Duck-typed on purpose: the limiter may come from another copy of doorman.
function isLimiterStats(value: unknown): value is LimiterStats {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['name'] === 'string' &&
    v['name'] !== '' &&
    typeof v['limit'] === 'number' &&
    typeof v['inUse'] === 'number' &&
    typeof v['waiting'] === 'number' &&
    typeof v['onWait'] === 'function' &&
    typeof v['counters'] === 'object' &&
    v['counters'] !== null
  );
}

function limiterOf(source: unknown): LimiterStats | undefined {
  if (isLimiterStats(source)) return source;
  if ((typeof source === 'function' || typeof source === 'object') && source !== null) {
    const inner = (source as { limiter?: unknown }).limiter;
    if (isLimiterStats(inner)) return inner;
  }
  return undefined;
}

function identityOf(labels: Labels): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]),
  );
}

function showLabels(labels: Labels): string {
  return `{${Object.entries(labels)
    .map(([name, value]) => `${name}="${value}"`)
    .join(',')}}`;
}

function checkCompatible(
  set: MetricSet,
  labelNames: readonly string[],
  buckets: readonly number[],
): void {
  if (labelNames.join(',') !== set.labelNames.join(',')) {
    throw new Error(
      `The doorman metrics with prefix "${set.prefix}" on this registry have the static labels [${set.labelNames.join(', ')}]; every registerMetrics call on them must give the same label names, got [${labelNames.join(', ')}]. Use another \`prefix\` or registry for a different set.`,
    );
  }
  if (buckets.join(',') !== set.buckets.join(',')) {
    throw new Error(
      `The doorman wait histogram with prefix "${set.prefix}" on this registry has the buckets [${set.buckets.join(', ')}]; got [${buckets.join(', ')}]. Every registerMetrics call on one registry and prefix must use the same buckets.`,
    );
  }
}

/** Puts the set's metrics (back) on its registry, e.g. after `registry.clear()`. */
function ensureRegistered(set: MetricSet): void {
  const missing = set.metrics.filter(({ name, metric }) => {
    const present = set.registry.getSingleMetric(name);
    if (present === metric) return false;
    if (present !== undefined) throw nameTaken(name);
    return true;
  });
  for (const { metric } of missing) set.registry.registerMetric(metric as never);
}

function nameTaken(name: string): Error {
  return new Error(
    `A metric named ${name} is already registered on this registry, and doorman did not register it. Use another \`prefix\`.`,
  );
}

function createSet(
  registry: RegistryLike,
  prefix: string,
  labelNames: readonly string[],
  buckets: readonly number[],
): MetricSet {
  const bySource = new Map<LimiterStats, Series>();
  const names = ['limiter', ...labelNames];
  const reasonNames = [...names, 'reason'];
  const gauge = (name: string, help: string, read: (limiter: LimiterStats) => number) =>
    new Gauge({
      name: prefix + name,
      help,
      labelNames: names,
      registers: [],
      collect(this: Gauge) {
        this.reset();
        for (const series of bySource.values()) this.set(series.labels, read(series.limiter));
      },
    });

  const list = [
    gauge(
      'permits_in_use',
      'Units of the limit held now (in this process, for a distributed limiter).',
      (limiter) => limiter.inUse,
    ),
    gauge(
      'permits_limit',
      'Most units of the limit that may be held at once.',
      (limiter) => limiter.limit,
    ),
    gauge(
      'waiters',
      'Acquirers waiting in the queue now (in this process, for a distributed limiter).',
      (limiter) => limiter.waiting,
    ),
    new Counter({
      name: `${prefix}acquired_total`,
      help: 'Permits granted since the limiter was made, at once or after waiting.',
      labelNames: names,
      registers: [],
      collect(this: Counter) {
        this.reset();
        for (const series of bySource.values()) {
          this.inc(series.labels, finite(series.limiter.counters.acquired));
        }
      },
    }),
    new Counter({
      name: `${prefix}rejected_total`,
      help: 'Acquires refused since the limiter was made, by reason: queue_full, timeout, aborted, closed, unavailable.',
      labelNames: reasonNames,
      registers: [],
      collect(this: Counter) {
        this.reset();
        for (const series of bySource.values()) {
          const rejected = series.limiter.counters.rejected as Partial<
            Record<RejectionReason, number>
          >;
          rejectionReasons.forEach((reason, i) => {
            this.inc(series.reasonLabels[i] as Labels, finite(rejected?.[reason]));
          });
        }
      },
    }),
    new WaitHistogram(
      `${prefix}wait_seconds`,
      'Time admitted acquirers waited in the queue, in seconds (0 when admitted at once).',
      buckets,
      bySource,
    ),
  ];

  const metrics = list.map((metric, i) => ({ name: prefix + metricSuffixes[i], metric }));
  for (const { name } of metrics) {
    if (registry.getSingleMetric(name) !== undefined) throw nameTaken(name);
  }
  for (const { metric } of metrics) registry.registerMetric(metric as never);
  return {
    registry,
    prefix,
    labelNames,
    buckets,
    bySource,
    byIdentity: new Map(),
    metrics,
  };
}

function removeSet(set: MetricSet): void {
  for (const { name, metric } of set.metrics) {
    if (set.registry.getSingleMetric(name) === metric) set.registry.removeSingleMetric(name);
  }
  const sets = state.get(set.registry);
  if (sets?.get(set.prefix) === set) {
    sets.delete(set.prefix);
    if (sets.size === 0) state.delete(set.registry);
  }
}

function createSeries(
  set: MetricSet,
  limiter: LimiterStats,
  labels: Labels,
  identity: string,
): Series {
  const bounds = Float64Array.from(set.buckets);
  const n = bounds.length;
  const waits = new Float64Array(n + 2);
  // Runs at every admission: a few comparisons and two writes into the
  // preallocated array, no allocation and no call into prom-client.
  const listener = (waitMs: number): void => {
    const seconds = waitMs / 1000;
    if (!(seconds >= 0 && seconds < Number.POSITIVE_INFINITY)) return;
    let i = 0;
    while (i < n && seconds > bounds[i]!) i++;
    waits[i] = waits[i]! + 1;
    waits[n + 1] = waits[n + 1]! + seconds;
  };
  return {
    limiter,
    labels,
    identity,
    reasonLabels: rejectionReasons.map((reason) => ({ ...labels, reason })),
    waits,
    stopWaits: limiter.onWait(listener),
    holders: 0,
  };
}

function finite(value: unknown): number {
  return typeof value === 'number' && value >= 0 && value < Number.POSITIVE_INFINITY ? value : 0;
}
