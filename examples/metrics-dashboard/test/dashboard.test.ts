import { describe, expect, it } from 'vitest';
import {
  exportedNames,
  expressionsOf,
  loadDashboard,
  metricNamesOf,
  toPromQL,
  variableMetricNames,
} from './dashboard.js';

describe('the Grafana dashboard', () => {
  const dashboard = loadDashboard();
  const expressions = expressionsOf(dashboard);

  it('has the panels people look for', () => {
    expect(dashboard.panels.map((p) => p.title)).toEqual([
      'Permits in use against the limit, per instance',
      'Cluster-wide in use against the shared limit',
      'Utilisation',
      'Waiters',
      'Admissions per second',
      'Rejections per second by reason',
      'Rejected share',
      'Wait time p50 / p99',
      'Leases lost and fail-open admissions per second',
      'Adaptive limiters: latency learned',
    ]);
    expect(expressions).toHaveLength(16);
    // Every unnamed limiter is `http`: the job and the instance tell them apart.
    expect(dashboard.templating.list.map((v) => v.name)).toEqual([
      'datasource',
      'job',
      'instance',
      'limiter',
    ]);
    for (const { panel, refId, expr } of expressions) {
      if (panel.startsWith('Cluster-wide') || (refId === 'B' && panel === 'Utilisation')) continue;
      expect(expr, `${panel} ${refId}`).toContain('instance=~"$instance"');
    }
    for (const { panel, refId, expr } of expressions) {
      expect(expr, `${panel} ${refId}`).toContain('job=~"$job"');
    }
  });

  it('names only metrics that doorman exports, in every PromQL expression and variable', async () => {
    const exported = await exportedNames();
    expect([...exported].sort()).toEqual([
      'doorman_acquired_total',
      'doorman_adaptive_latency_seconds',
      'doorman_adaptive_min_latency_seconds',
      'doorman_fail_open_total',
      'doorman_leases_lost_total',
      'doorman_permits_in_use',
      'doorman_permits_limit',
      'doorman_rejected_total',
      'doorman_wait_seconds_bucket',
      'doorman_wait_seconds_count',
      'doorman_wait_seconds_sum',
      'doorman_waiters',
    ]);
    const used = new Set<string>(variableMetricNames(dashboard));
    for (const { panel, refId, expr } of expressions) {
      const names = metricNamesOf(toPromQL(dashboard, expr));
      expect(names.length, `${panel} ${refId}`).toBeGreaterThan(0);
      for (const name of names) {
        expect(exported.has(name), `${panel} ${refId} selects ${name}`).toBe(true);
        used.add(name);
      }
    }
    // Every metric doorman exports is on the dashboard, bar the histogram's _sum and _count.
    expect([...used].sort()).toEqual([
      'doorman_acquired_total',
      'doorman_adaptive_latency_seconds',
      'doorman_adaptive_min_latency_seconds',
      'doorman_fail_open_total',
      'doorman_leases_lost_total',
      'doorman_permits_in_use',
      'doorman_permits_limit',
      'doorman_rejected_total',
      'doorman_wait_seconds_bucket',
      'doorman_waiters',
    ]);
  });

  it('is caught by this check when an expression names a metric doorman does not export', () => {
    expect(metricNamesOf('sum(rate(doorman_admitted_total[1m])) / on() doorman_waiters')).toEqual([
      'doorman_admitted_total',
      'doorman_waiters',
    ]);
    expect(() => metricNamesOf('sum(rate(doorman_waiters[1m]')).toThrow(/syntax error/);
    expect(() => metricNamesOf('{limiter="api"}')).toThrow(/names no metric/);
  });
});
