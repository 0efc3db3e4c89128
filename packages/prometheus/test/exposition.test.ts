import { registerMetrics } from '@doorman/prometheus';
import { Semaphore } from '@doorman/semaphore';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FakeLimiter } from './helpers.js';

const helpTexts = {
  permits_in_use: 'Units of the limit held now (in this process, for a distributed limiter).',
  permits_limit: 'Most units of the limit that may be held at once.',
  waiters: 'Acquirers waiting in the queue now (in this process, for a distributed limiter).',
  acquired_total: 'Permits granted since the limiter was made, at once or after waiting.',
  rejected_total:
    'Acquires refused since the limiter was made, by reason: queue_full, timeout, aborted, closed, unavailable.',
  wait_seconds:
    'Time admitted acquirers waited in the queue, in seconds (0 when admitted at once).',
};
const helpOf = (prefix: string, metric: keyof typeof helpTexts) =>
  `# HELP ${prefix}${metric} ${helpTexts[metric]}`;
const help = {
  inUse: helpOf('doorman_', 'permits_in_use'),
  limit: helpOf('doorman_', 'permits_limit'),
  waiters: helpOf('doorman_', 'waiters'),
  acquired: helpOf('doorman_', 'acquired_total'),
  rejected: helpOf('doorman_', 'rejected_total'),
  wait: helpOf('doorman_', 'wait_seconds'),
};

describe('the exposition text for a known state', () => {
  it('is exactly this for a semaphore with holders, a waiter and rejections', async () => {
    const registry = new Registry();
    const api = new Semaphore({ limit: 2, maxQueue: 1, name: 'api' });
    registerMetrics(api, { registry });

    const held = [await api.acquire(), await api.acquire({ weight: 1 })];
    const queued = api.acquire();
    await expect(api.acquire()).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    await expect(api.acquire({ signal: AbortSignal.abort() })).rejects.toBeDefined();

    expect(await registry.metrics()).toBe(`${help.inUse}
# TYPE doorman_permits_in_use gauge
doorman_permits_in_use{limiter="api"} 2

${help.limit}
# TYPE doorman_permits_limit gauge
doorman_permits_limit{limiter="api"} 2

${help.waiters}
# TYPE doorman_waiters gauge
doorman_waiters{limiter="api"} 1

${help.acquired}
# TYPE doorman_acquired_total counter
doorman_acquired_total{limiter="api"} 2

${help.rejected}
# TYPE doorman_rejected_total counter
doorman_rejected_total{limiter="api",reason="queue_full"} 1
doorman_rejected_total{limiter="api",reason="timeout"} 0
doorman_rejected_total{limiter="api",reason="aborted"} 1
doorman_rejected_total{limiter="api",reason="closed"} 0
doorman_rejected_total{limiter="api",reason="unavailable"} 0

${help.wait}
# TYPE doorman_wait_seconds histogram
doorman_wait_seconds_bucket{limiter="api",le="0"} 2
doorman_wait_seconds_bucket{limiter="api",le="0.001"} 2
doorman_wait_seconds_bucket{limiter="api",le="0.0025"} 2
doorman_wait_seconds_bucket{limiter="api",le="0.005"} 2
doorman_wait_seconds_bucket{limiter="api",le="0.01"} 2
doorman_wait_seconds_bucket{limiter="api",le="0.025"} 2
doorman_wait_seconds_bucket{limiter="api",le="0.05"} 2
doorman_wait_seconds_bucket{limiter="api",le="0.1"} 2
doorman_wait_seconds_bucket{limiter="api",le="0.25"} 2
doorman_wait_seconds_bucket{limiter="api",le="0.5"} 2
doorman_wait_seconds_bucket{limiter="api",le="1"} 2
doorman_wait_seconds_bucket{limiter="api",le="2.5"} 2
doorman_wait_seconds_bucket{limiter="api",le="5"} 2
doorman_wait_seconds_bucket{limiter="api",le="10"} 2
doorman_wait_seconds_bucket{limiter="api",le="+Inf"} 2
doorman_wait_seconds_sum{limiter="api"} 0
doorman_wait_seconds_count{limiter="api"} 2
`);

    for (const permit of held) permit.release();
    (await queued).release();
  });

  it('is exactly this with a prefix, static labels, own buckets, and known waits of a duck-typed limiter', async () => {
    const registry = new Registry();
    const redis = new FakeLimiter('orders');
    redis.limit = 8;
    redis.inUse = 5;
    redis.waiting = 3;
    redis.rejected = { queue_full: 4, timeout: 3, aborted: 2, closed: 0, unavailable: 1 };
    registerMetrics(redis, {
      registry,
      prefix: 'shop_',
      labels: { service: 'checkout', zone: 'b' },
      buckets: [0.001, 0.01, 0.1],
    });
    // Waits in ms: on a bound counts in that bucket (le is "less or equal").
    const waitsMs = [0, 0.5, 1, 7.5, 10, 250];
    for (const ms of waitsMs) redis.admit(ms);
    const sum = waitsMs.reduce((total, ms) => total + ms / 1000, 0);

    const labels = 'limiter="orders",service="checkout",zone="b"';
    expect(await registry.metrics()).toBe(
      [
        helpOf('shop_', 'permits_in_use'),
        '# TYPE shop_permits_in_use gauge',
        `shop_permits_in_use{${labels}} 5`,
        '',
        helpOf('shop_', 'permits_limit'),
        '# TYPE shop_permits_limit gauge',
        `shop_permits_limit{${labels}} 8`,
        '',
        helpOf('shop_', 'waiters'),
        '# TYPE shop_waiters gauge',
        `shop_waiters{${labels}} 3`,
        '',
        helpOf('shop_', 'acquired_total'),
        '# TYPE shop_acquired_total counter',
        `shop_acquired_total{${labels}} 6`,
        '',
        helpOf('shop_', 'rejected_total'),
        '# TYPE shop_rejected_total counter',
        `shop_rejected_total{${labels},reason="queue_full"} 4`,
        `shop_rejected_total{${labels},reason="timeout"} 3`,
        `shop_rejected_total{${labels},reason="aborted"} 2`,
        `shop_rejected_total{${labels},reason="closed"} 0`,
        `shop_rejected_total{${labels},reason="unavailable"} 1`,
        '',
        helpOf('shop_', 'wait_seconds'),
        '# TYPE shop_wait_seconds histogram',
        `shop_wait_seconds_bucket{${labels},le="0.001"} 3`,
        `shop_wait_seconds_bucket{${labels},le="0.01"} 5`,
        `shop_wait_seconds_bucket{${labels},le="0.1"} 5`,
        `shop_wait_seconds_bucket{${labels},le="+Inf"} 6`,
        `shop_wait_seconds_sum{${labels}} ${sum}`,
        `shop_wait_seconds_count{${labels}} 6`,
        '',
      ].join('\n'),
    );
  });
});
