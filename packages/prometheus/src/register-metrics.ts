import { type LimiterStats, rejectionReasons } from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';
import { register as defaultRegistry, type Registry } from 'prom-client';
import {
  createSet,
  dropUnwantedFamilies,
  type Labels,
  type MetricSet,
  registerFamilies,
  type Series,
  seriesShape,
  unregisterSet,
} from './metric-set.js';
import { parseOptions, type RegistryLike } from './options.js';

const { show } = check;

export { rejectionReasons };

/** A limiter, or a middleware carrying one as `.limiter` (as both adapters return). */
export type MetricsSource = LimiterStats | { readonly limiter: LimiterStats };

export interface RegisterMetricsOptions {
  /**
   * Where the metrics go: any prom-client `Registry` (Prometheus text or
   * OpenMetrics, an `AggregatorRegistry`). Default: prom-client's `register`.
   * Typed by the methods used, which prom-client 14 and 15 share (15's
   * `Registry<ContentType>` generic does not exist in 14).
   */
  registry?: Pick<Registry, 'registerMetric' | 'getSingleMetric' | 'removeSingleMetric'>;
  /** Put before every metric name. Default `'doorman_'`. */
  prefix?: string;
  /** Static labels added to every series of these limiters, e.g. `{ service: 'api' }`. */
  labels?: Record<string, string | number>;
  /** Upper bounds of the wait histogram, in seconds. Default: `defaultWaitBuckets`. */
  buckets?: readonly number[];
}

/** Removes what one `registerMetrics` call added. Calling it again does nothing. */
export type UnregisterMetrics = () => void;

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

  const fresh = set === undefined;
  set ??= createSet(registry, parsed.prefix, parsed.labelNames, parsed.buckets);
  registerFamilies(
    set,
    plans.map((plan) => plan.limiter),
  );
  if (fresh) {
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
    else dropUnwantedFamilies(owner);
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

function removeSet(set: MetricSet): void {
  unregisterSet(set);
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
    ...seriesShape(limiter, labels),
    waits,
    stopWaits: limiter.onWait(listener),
    holders: 0,
  };
}
