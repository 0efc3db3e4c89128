// The metrics of an AdaptiveSemaphore: its moving limit under
// doorman_permits_limit, and what its algorithm estimates under the optional
// doorman_adaptive_* gauges, on a real prom-client registry.
import { AdaptiveSemaphore } from '@doorman/adaptive';
import { registerMetrics } from '@doorman/prometheus';
import { type Permit, Semaphore } from '@doorman/semaphore';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { samplesOf } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Fills the limit, holds every permit `ms`, releases them: one round of full use. */
function round(limiter: AdaptiveSemaphore, ms: number): void {
  const permits: Permit[] = [];
  for (let p = limiter.tryAcquire(); p !== undefined; p = limiter.tryAcquire()) permits.push(p);
  vi.advanceTimersByTime(ms);
  for (const p of permits) p.release();
}

describe('an AdaptiveSemaphore on the metrics', () => {
  it('exports the moving limit and the latencies its algorithm learned, in seconds', async () => {
    const registry = new Registry();
    const limiter = new AdaptiveSemaphore({ initialLimit: 10, name: 'api' });
    const plain = new Semaphore({ limit: 3, name: 'plain' });
    registerMetrics([limiter, plain], { registry });

    // Nothing learned yet: the families exist, the adaptive series not yet.
    let samples = await samplesOf(registry);
    expect(samples.get('doorman_permits_limit{limiter="api"}')).toBe(10);
    expect(registry.getSingleMetric('doorman_adaptive_min_latency_seconds')).toBeDefined();
    expect([...samples.keys()].filter((k) => k.startsWith('doorman_adaptive_'))).toEqual([]);

    // Work that takes 40 ms with the limit in full use: the limit grows.
    for (let i = 0; i < 30; i++) round(limiter, 40);
    samples = await samplesOf(registry);
    expect(samples.get('doorman_adaptive_min_latency_seconds{limiter="api"}')).toBe(0.04);
    expect(samples.get('doorman_adaptive_latency_seconds{limiter="api"}')).toBe(0.04);
    expect(samples.get('doorman_permits_limit{limiter="api"}')).toBe(limiter.limit);
    expect(limiter.limit).toBeGreaterThan(10);
    // The plain semaphore has no estimate to show.
    expect(samples.has('doorman_adaptive_min_latency_seconds{limiter="plain"}')).toBe(false);
    expect(samples.get('doorman_permits_limit{limiter="plain"}')).toBe(3);
  });

  it('adds no adaptive families for limiters that have no estimates', async () => {
    const registry = new Registry();
    registerMetrics(new Semaphore({ limit: 3, name: 'plain' }), { registry });
    expect(registry.getSingleMetric('doorman_adaptive_min_latency_seconds')).toBeUndefined();
    expect(await registry.metrics()).not.toContain('adaptive');
  });
});
