import type { LimiterStats } from '@doorman/semaphore';
import { Counter, Gauge } from 'prom-client';
import {
  type MetricDefinition,
  metricDefinitions,
  type ReadDefinition,
} from './metric-definitions.js';
import type { RegistryLike } from './options.js';
import { WaitHistogram } from './wait-histogram.js';

export type Labels = Readonly<Record<string, string>>;

/** One limiter on one metric set: its labels and its wait-time buckets. */
export interface Series {
  readonly limiter: LimiterStats;
  readonly labels: Labels;
  /** The label set as text: two series with the same identity would collide. */
  readonly identity: string;
  /** Per split definition (by suffix): `labels` plus each value of its split label, in order. */
  readonly splitLabels: ReadonlyMap<string, readonly Labels[]>;
  /** The optional definitions (by suffix) this limiter has a value for. */
  readonly optional: ReadonlySet<string>;
  /**
   * Non-cumulative counts per bucket (the last is above every bound), then
   * the sum of waits in seconds. Written by the wait listener, read at scrape.
   */
  readonly waits: Float64Array;
  readonly stopWaits: () => void;
  /** How many live registrations hold this series. */
  holders: number;
}

/** One metric of a set: its definition, full name and prom-client object. */
interface Family {
  readonly definition: MetricDefinition;
  readonly name: string;
  readonly metric: object;
}

/** The metrics of one (registry, prefix), and the limiters they report. */
export interface MetricSet {
  readonly registry: RegistryLike;
  readonly prefix: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
  readonly bySource: Map<LimiterStats, Series>;
  readonly byIdentity: Map<string, Series>;
  readonly families: readonly Family[];
}

export function createSet(
  registry: RegistryLike,
  prefix: string,
  labelNames: readonly string[],
  buckets: readonly number[],
): MetricSet {
  const bySource = new Map<LimiterStats, Series>();
  const names = ['limiter', ...labelNames];
  const families = metricDefinitions.map((definition) => ({
    definition,
    name: prefix + definition.suffix,
    metric:
      definition.type === 'histogram'
        ? new WaitHistogram(prefix + definition.suffix, definition.help, buckets, bySource)
        : readMetric(prefix, names, definition, bySource),
  }));
  return {
    registry,
    prefix,
    labelNames,
    buckets,
    bySource,
    byIdentity: new Map(),
    families,
  };
}

/** A gauge or counter that reads every series' limiter at scrape time. */
function readMetric(
  prefix: string,
  names: readonly string[],
  definition: ReadDefinition,
  bySource: ReadonlyMap<LimiterStats, Series>,
): object {
  const { suffix, read, split } = definition;
  const gauge = definition.type === 'gauge';
  function collect(this: Gauge | Counter): void {
    this.reset();
    const put = gauge
      ? (labels: Labels, value: number) => (this as Gauge).set(labels, value)
      : (labels: Labels, value: number) => (this as Counter).inc(labels, value);
    for (const series of bySource.values()) {
      if (split === undefined) {
        const value = read(series.limiter, undefined);
        if (value !== undefined) put(series.labels, value);
        continue;
      }
      const labels = series.splitLabels.get(suffix);
      if (labels === undefined) continue;
      split.values.forEach((label, i) => {
        const value = read(series.limiter, label);
        if (value !== undefined) put(labels[i] as Labels, value);
      });
    }
  }
  const config = {
    name: prefix + suffix,
    help: definition.help,
    labelNames: split === undefined ? names : [...names, split.label],
    registers: [],
    collect,
  };
  return gauge ? new Gauge(config) : new Counter(config);
}

/** What a new series of `limiter` needs to know of the definitions. */
export function seriesShape(limiter: LimiterStats, labels: Labels) {
  const splitLabels = new Map<string, readonly Labels[]>();
  const optional = new Set<string>();
  for (const definition of metricDefinitions) {
    if (definition.type === 'histogram') continue;
    if (definition.split !== undefined) {
      const label = definition.split.label;
      splitLabels.set(
        definition.suffix,
        definition.split.values.map((value) => ({ ...labels, [label]: value })),
      );
    }
    if (definition.optional && hasValue(definition, limiter)) optional.add(definition.suffix);
  }
  return { splitLabels, optional };
}

/** An optional family is wanted while some series (or one about to be added) has it. */
function wanted(set: MetricSet, family: Family, adding: readonly LimiterStats[]): boolean {
  const { definition } = family;
  if (!definition.optional) return true;
  for (const series of set.bySource.values()) {
    if (series.optional.has(definition.suffix)) return true;
  }
  return adding.some((limiter) => hasValue(definition, limiter));
}

/** Whether a limiter has an optional metric: by `has`, else by a number to read now. */
function hasValue(definition: ReadDefinition, limiter: LimiterStats): boolean {
  return definition.has !== undefined
    ? definition.has(limiter)
    : definition.read(limiter, undefined) !== undefined;
}

/**
 * Registers the set's wanted metrics, `adding` these limiters (again, too,
 * e.g. after `registry.clear()`). Checks every name before changing
 * anything, so a refused call leaves no trace.
 */
export function registerFamilies(set: MetricSet, adding: readonly LimiterStats[]): void {
  const add: Family[] = [];
  for (const family of set.families) {
    if (!wanted(set, family, adding)) continue;
    const present = set.registry.getSingleMetric(family.name);
    if (present === family.metric) continue;
    if (present !== undefined) throw nameTaken(family.name);
    add.push(family);
  }
  for (const { metric } of add) set.registry.registerMetric(metric as never);
}

/** Takes off the optional metrics that no series of the set has any more. */
export function dropUnwantedFamilies(set: MetricSet): void {
  for (const family of set.families) {
    if (wanted(set, family, [])) continue;
    if (set.registry.getSingleMetric(family.name) === family.metric) {
      set.registry.removeSingleMetric(family.name);
    }
  }
}

/** Takes every metric of the set off its registry. */
export function unregisterSet(set: MetricSet): void {
  for (const { name, metric } of set.families) {
    if (set.registry.getSingleMetric(name) === metric) set.registry.removeSingleMetric(name);
  }
}

function nameTaken(name: string): Error {
  return new Error(
    `A metric named ${name} is already registered on this registry, and doorman did not register it. Use another \`prefix\`.`,
  );
}
