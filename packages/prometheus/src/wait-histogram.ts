import type { Series } from './metric-set.js';

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * `doorman_wait_seconds`: a histogram whose observations are counted by each
 * limiter's wait listener into a preallocated array (no allocation, no call
 * into prom-client on the request path), and turned into samples only when
 * the registry is scraped. It has the shape prom-client's registry reads from
 * any metric (`get()` as in `getMetricsAsJSON`), so text, OpenMetrics, JSON
 * and cluster aggregation all work as for prom-client's own Histogram.
 */
export class WaitHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
    private readonly series: ReadonlyMap<unknown, Series>,
  ) {}

  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Sample[];
  }> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    const n = this.buckets.length;
    for (const { labels, waits } of this.series.values()) {
      let count = 0;
      for (let i = 0; i < n; i++) {
        count += waits[i]!;
        values.push({
          metricName: bucket,
          labels: { ...labels, le: this.buckets[i]! },
          value: count,
        });
      }
      count += waits[n]!;
      values.push({ metricName: bucket, labels: { ...labels, le: '+Inf' }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...labels }, value: waits[n + 1]! });
      values.push({ metricName: `${this.name}_count`, labels: { ...labels }, value: count });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  /** `registry.resetMetrics()`: forgets the waits observed so far. */
  reset(): void {
    for (const { waits } of this.series.values()) waits.fill(0);
  }
}
