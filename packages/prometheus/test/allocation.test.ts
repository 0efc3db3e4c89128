import { constants, PerformanceObserver } from 'node:perf_hooks';
import { registerMetrics } from '@doorman/prometheus';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FakeLimiter } from './helpers.js';

async function minorGcsDuring(run: () => void): Promise<number> {
  let minor = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (
        (entry as { detail?: { kind?: number } }).detail?.kind ===
        constants.NODE_PERFORMANCE_GC_MINOR
      )
        minor++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  await new Promise((resolve) => setImmediate(resolve));
  minor = 0;
  run();
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  return minor;
}

// Minor (young generation) collections happen only when the young generation
// fills up, so a loop of two million observations that triggers none has
// allocated nothing worth the name (each allocating call would fill it many times).
describe('the wait observation on the request path', () => {
  it('allocates nothing: no minor GC in 2 million observations', async () => {
    const limiter = new FakeLimiter('alloc');
    const registry = new Registry();
    registerMetrics(limiter, { registry });
    const listener = limiter.listeners[0]!;
    // Boxed numbers made up front, so the loop itself allocates nothing either.
    const waits: unknown[] = [0, 0.4, 3.7, 42.5, 900.25, 12_000.5, 'generic'];
    waits.pop();
    const n = waits.length;
    const observe = () => {
      for (let i = 0; i < 2_000_000; i++) listener(waits[i % n] as number);
    };
    observe(); // warm up: optimised before it is measured
    const ours = await minorGcsDuring(observe);

    const histogram = new Histogram({
      name: 'control',
      help: 'control',
      labelNames: ['limiter'],
      registers: [registry],
    });
    const child = histogram.labels('alloc');
    const control = () => {
      for (let i = 0; i < 1_000_000; i++) child.observe((waits[i % n] as number) / 1000);
    };
    control();
    const theirs = await minorGcsDuring(control);
    // The same count taken on prom-client's own labelled child shows the
    // measure sees allocation: its observe builds a label hash each call.
    expect(theirs).toBeGreaterThanOrEqual(4);
    expect(ours).toBeLessThanOrEqual(1);
  });
});
