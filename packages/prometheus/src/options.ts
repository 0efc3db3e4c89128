// Option checks for registerMetrics. Each message names the option and shows
// the value given and its type, as the rest of doorman does.
import { check } from '@doorman/semaphore/internal';
import { splitLabels } from './metric-definitions.js';

const { show } = check;

/** Upper bounds of `doorman_wait_seconds`, in seconds (`+Inf` is added). */
export const defaultWaitBuckets: readonly number[] = Object.freeze([
  0, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

const metricNameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNameRe = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Label names doorman sets itself, or that Prometheus reserves. */
const ownLabels: ReadonlySet<string> = new Set(['limiter', ...splitLabels, 'le', 'quantile']);
const optionKeys: ReadonlySet<string> = new Set(['registry', 'prefix', 'labels', 'buckets']);

/** What registerMetrics needs of a prom-client `Registry` (any copy of prom-client). */
export interface RegistryLike {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
}

export interface ParsedOptions {
  registry: RegistryLike | undefined;
  prefix: string;
  labels: Readonly<Record<string, string>>;
  /** Sorted static label names, joined: what must match across calls. */
  labelNames: readonly string[];
  buckets: readonly number[];
}

export function parseOptions(options: unknown): ParsedOptions {
  if (options === undefined) {
    return {
      registry: undefined,
      prefix: 'doorman_',
      labels: {},
      labelNames: [],
      buckets: defaultWaitBuckets,
    };
  }
  const o = check.plainObject('options', options);
  check.knownKeys('registerMetrics options', o, optionKeys);
  return {
    registry: o['registry'] === undefined ? undefined : registryOption(o['registry']),
    prefix: o['prefix'] === undefined ? 'doorman_' : prefixOption(o['prefix']),
    ...labelsOption(o['labels']),
    buckets: o['buckets'] === undefined ? defaultWaitBuckets : bucketsOption(o['buckets']),
  };
}

function registryOption(value: unknown): RegistryLike {
  const r = value as Partial<Record<keyof RegistryLike, unknown>> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.registerMetric !== 'function' ||
    typeof r.getSingleMetric !== 'function' ||
    typeof r.removeSingleMetric !== 'function'
  ) {
    throw new TypeError(
      `Expected \`registry\` to be a prom-client Registry (with registerMetric, getSingleMetric and removeSingleMetric), got ${show(value)}`,
    );
  }
  return r as RegistryLike;
}

function prefixOption(value: unknown): string {
  const message = `Expected \`prefix\` to be a string that starts a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, or empty), got ${show(value)}`;
  if (typeof value !== 'string') throw new TypeError(message);
  if (value !== '' && !metricNameRe.test(value)) throw new RangeError(message);
  return value;
}

function labelsOption(value: unknown): { labels: Record<string, string>; labelNames: string[] } {
  if (value === undefined) return { labels: {}, labelNames: [] };
  const labels: Record<string, string> = {};
  for (const [name, v] of Object.entries(check.plainObject('labels', value))) {
    if (!labelNameRe.test(name) || name.startsWith('__')) {
      throw new RangeError(
        `Expected the names in \`labels\` to be valid label names ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __), got ${show(name)}`,
      );
    }
    if (ownLabels.has(name)) {
      throw new RangeError(
        `Expected the names in \`labels\` to be other than ${[...ownLabels].map((l) => `\`${l}\``).join(', ')} (doorman and Prometheus set those), got ${show(name)}`,
      );
    }
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new TypeError(`Expected \`labels.${name}\` to be a string or a number, got ${show(v)}`);
    }
    labels[name] = String(v);
  }
  return { labels, labelNames: Object.keys(labels).sort() };
}

function bucketsOption(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(
      `Expected \`buckets\` to be a non-empty array of upper bounds in seconds, got ${show(value)}`,
    );
  }
  let previous = Number.NEGATIVE_INFINITY;
  for (const bound of value) {
    if (typeof bound !== 'number' || !Number.isFinite(bound) || bound <= previous || bound < 0) {
      throw new RangeError(
        `Expected \`buckets\` to be finite numbers >= 0 in increasing order (+Inf is added), got ${show(value)}`,
      );
    }
    previous = bound;
  }
  return [...value] as number[];
}
