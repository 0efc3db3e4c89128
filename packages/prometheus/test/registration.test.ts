import { concurrencyLimit as expressLimit } from '@doorman/express';
import { concurrencyLimit as koaLimit } from '@doorman/koa';
import { defaultWaitBuckets, registerMetrics, rejectionReasons } from '@doorman/prometheus';
import { KeyedSemaphore, Semaphore } from '@doorman/semaphore';
import {
  AggregatorRegistry,
  Counter,
  register as defaultRegistry,
  type OpenMetricsContentType,
  openMetricsContentType,
  Registry,
} from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { expectedMajor } from '../../../test/support/peer-major.js';
import { FakeLimiter, samplesOf } from './helpers.js';

// prom-client 14 has no OpenMetrics: that test runs in the prom-client 15 project only.
// prom-client 14 has no OpenMetrics registry: that test exists only where the feature does.
const withOpenMetrics = expectedMajor('prom-client') >= 15;

const metricNames = [
  'doorman_permits_in_use',
  'doorman_permits_limit',
  'doorman_waiters',
  'doorman_acquired_total',
  'doorman_rejected_total',
  'doorman_wait_seconds',
];

/** The `limiter` label values a metric shows, in order. */
async function limitersOn(
  registry: Registry,
  metric = 'doorman_permits_in_use',
): Promise<string[]> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === metric);
  return (found?.values ?? []).map((v) => String((v.labels as { limiter: string }).limiter));
}

describe('many limiters on one registry', () => {
  it('takes two limiters and a per-key limiter in one call, with one series each', async () => {
    const registry = new Registry();
    const api = new Semaphore({ limit: 10, name: 'api' });
    const db = new Semaphore({ limit: 5, name: 'db' });
    const tenants = new KeyedSemaphore({ limit: 2, name: 'tenants' });
    registerMetrics([api, db, tenants], { registry });

    const permits = [await api.acquire({ weight: 3 }), await db.acquire()];
    for (let i = 0; i < 50; i++) permits.push(await tenants.acquire({ key: `tenant-${i}` }));
    const queued = tenants.acquire({ key: 'tenant-0', weight: 2 });

    const s = await samplesOf(registry);
    expect(s.get('doorman_permits_in_use{limiter="api"}')).toBe(3);
    expect(s.get('doorman_permits_in_use{limiter="db"}')).toBe(1);
    expect(s.get('doorman_permits_in_use{limiter="tenants"}')).toBe(50);
    expect(s.get('doorman_permits_limit{limiter="tenants"}')).toBe(2);
    expect(s.get('doorman_waiters{limiter="tenants"}')).toBe(1);
    expect(s.get('doorman_acquired_total{limiter="tenants"}')).toBe(50);
    expect(s.get('doorman_wait_seconds_count{limiter="tenants"}')).toBe(50);
    // 50 keys, and still one series per limiter: the label never carries a key.
    for (const name of metricNames.slice(0, 4)) {
      expect(await limitersOn(registry, name)).toEqual(['api', 'db', 'tenants']);
    }
    // The per-key limiter adds its two key gauges (it has no totalLimit).
    expect(s.get('doorman_keys_active{limiter="tenants"}')).toBe(50);
    expect(s.get('doorman_keys_waiting{limiter="tenants"}')).toBe(1);
    expect(s.size).toBe(
      3 * 4 + 3 * rejectionReasons.length + 3 * (defaultWaitBuckets.length + 3) + 2,
    );

    for (const permit of permits) permit.release();
    (await queued).release();
    const after = await samplesOf(registry);
    expect(after.get('doorman_permits_in_use{limiter="tenants"}')).toBe(0);
    expect(after.get('doorman_acquired_total{limiter="tenants"}')).toBe(51); // retired keys still count
    expect(after.get('doorman_keys_active{limiter="tenants"}')).toBe(0);
  });

  it('takes them in several calls, and middlewares of both adapters by their .limiter', async () => {
    const registry = new Registry();
    const viaExpress = expressLimit({ limit: 4, name: 'express-api' });
    const viaKoa = koaLimit({ limit: 3, name: 'koa-api', key: (ctx) => ctx.ip });
    const db = new Semaphore({ limit: 5, name: 'db' });
    registerMetrics(viaExpress, { registry });
    registerMetrics([viaKoa], { registry });
    registerMetrics(db, { registry });
    expect(await limitersOn(registry)).toEqual(['express-api', 'koa-api', 'db']);
    const s = await samplesOf(registry);
    expect(s.get('doorman_permits_limit{limiter="express-api"}')).toBe(4);
    expect(s.get('doorman_permits_limit{limiter="koa-api"}')).toBe(3);
  });

  it('counts a limiter registered twice once: again in a later call, in one array, or through its middleware', async () => {
    const registry = new Registry();
    const db = new Semaphore({ limit: 5, name: 'db' });
    const a = expressLimit({ limiter: db });
    const b = koaLimit({ limiter: db, weight: 2 });
    registerMetrics([db, db, a], { registry });
    registerMetrics(b, { registry });
    registerMetrics(db, { registry });

    (await db.acquire()).release();
    const s = await samplesOf(registry);
    expect(await limitersOn(registry)).toEqual(['db']);
    expect(s.get('doorman_acquired_total{limiter="db"}')).toBe(1);
    expect(s.get('doorman_wait_seconds_count{limiter="db"}')).toBe(1); // one wait listener, not three
  });

  it('refuses two different limiters with the same name, and the refused call changes nothing', async () => {
    const registry = new Registry();
    const first = new Semaphore({ limit: 1, name: 'api' });
    const twin = new Semaphore({ limit: 9, name: 'api' });
    registerMetrics(first, { registry });

    const other = new Semaphore({ limit: 1, name: 'other' });
    expect(() => registerMetrics([other, twin], { registry })).toThrow(
      'Two different limiters are named "api" on this registry (prefix "doorman_"), with labels {limiter="api"}: their series would collide. Give each its own `name` option, or register them with different `labels`.',
    );
    expect(await limitersOn(registry)).toEqual(['api']);
    expect(() => registerMetrics([twin, new Semaphore({ limit: 1, name: 'api' })])).toThrow(
      /Two different limiters are named "api"/,
    );
    // Middlewares left unnamed share the default name `http`.
    expect(() =>
      registerMetrics([expressLimit({ limit: 1 }), expressLimit({ limit: 2 })], { registry }),
    ).toThrow(/named "http"/);
    expect(await limitersOn(registry)).toEqual(['api']);
    expect(twin.inUse).toBe(0);
  });

  it('lets limiters of one name apart by static labels of the same names', async () => {
    const registry = new Registry();
    const eu = new Semaphore({ limit: 1, name: 'db' });
    const us = new Semaphore({ limit: 2, name: 'db' });
    registerMetrics(eu, { registry, labels: { region: 'eu' } });
    registerMetrics(us, { registry, labels: { region: 'us' } });
    const s = await samplesOf(registry);
    expect(s.get('doorman_permits_limit{limiter="db",region="eu"}')).toBe(1);
    expect(s.get('doorman_permits_limit{limiter="db",region="us"}')).toBe(2);

    expect(() => registerMetrics(eu, { registry, labels: { region: 'ap' } })).toThrow(
      'Limiter "db" is already registered on this registry (prefix "doorman_") with labels {limiter="db",region="eu"}; registering it again with {limiter="db",region="ap"} would count it twice',
    );
    expect(() => registerMetrics(new Semaphore({ limit: 1, name: 'x' }), { registry })).toThrow(
      /have the static labels \[region\]; every registerMetrics call on them must give the same label names, got \[\]/,
    );
    expect(() =>
      registerMetrics(new Semaphore({ limit: 1, name: 'x' }), {
        registry,
        labels: { region: 'ap' },
        buckets: [1, 2],
      }),
    ).toThrow(/buckets \[0, 0.001, .*, 10\]; got \[1, 2\]/);
    // Another prefix is another set of metrics, free to differ.
    registerMetrics(new Semaphore({ limit: 1, name: 'x' }), { registry, prefix: 'other_' });
    expect(await limitersOn(registry, 'other_permits_in_use')).toEqual(['x']);
  });
});

describe('unregister', () => {
  it("removes that call's limiters, detaches their wait hooks, and the metrics once none remain", async () => {
    const registry = new Registry();
    const a = new FakeLimiter('a');
    const b = new FakeLimiter('b');
    const c = new FakeLimiter('c');
    const dropAB = registerMetrics([a, b], { registry });
    const dropBC = registerMetrics([b, c], { registry });
    expect(await limitersOn(registry)).toEqual(['a', 'b', 'c']);
    expect(b.listeners).toHaveLength(1);

    dropAB();
    expect(await limitersOn(registry)).toEqual(['b', 'c']); // b is still held by the second call
    expect(a.listeners).toHaveLength(0);
    expect(b.listeners).toHaveLength(1);
    dropAB(); // a second call does nothing
    expect(await limitersOn(registry)).toEqual(['b', 'c']);

    dropBC();
    expect(b.listeners).toHaveLength(0);
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    expect(await registry.metrics()).toBe('\n');

    // The registry is free again: new metrics, and a name once taken may be reused.
    registerMetrics(new FakeLimiter('a'), { registry });
    expect(await limitersOn(registry)).toEqual(['a']);
  });

  it('leaves metrics that are not doorman’s alone', async () => {
    const registry = new Registry();
    new Counter({ name: 'app_requests_total', help: 'requests', registers: [registry] });
    registerMetrics(new FakeLimiter('a'), { registry })();
    expect(registry.getMetricsAsArray()).toHaveLength(1);
    expect(registry.getSingleMetric('app_requests_total')).toBeDefined();
  });
});

describe('registries', () => {
  it("works on prom-client's default registry when none is given", async () => {
    const api = new Semaphore({ limit: 3, name: 'default-api' });
    const unregister = registerMetrics(api);
    const held = await api.acquire();
    try {
      expect(defaultRegistry.getSingleMetric('doorman_permits_in_use')).toBeDefined();
      const text = await defaultRegistry.metrics();
      expect(text).toContain('doorman_permits_in_use{limiter="default-api"} 1');
      expect(text).toContain('doorman_permits_limit{limiter="default-api"} 3');
    } finally {
      held.release();
      unregister();
    }
    expect(defaultRegistry.getSingleMetric('doorman_permits_in_use')).toBeUndefined();
  });

  it('refuses a name held by a metric doorman did not make, and registers nothing', () => {
    const registry = new Registry();
    new Counter({ name: 'doorman_acquired_total', help: 'mine', registers: [registry] });
    expect(() => registerMetrics(new FakeLimiter('a'), { registry })).toThrow(
      'A metric named doorman_acquired_total is already registered on this registry, and doorman did not register it. Use another `prefix`.',
    );
    expect(registry.getMetricsAsArray()).toHaveLength(1);
  });

  it('puts its metrics back after registry.clear()', async () => {
    const registry = new Registry();
    registerMetrics(new FakeLimiter('a'), { registry });
    registry.clear();
    // A refused call does not put them back either.
    expect(() => registerMetrics(new FakeLimiter('a'), { registry })).toThrow(/named "a"/);
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    registerMetrics(new FakeLimiter('b'), { registry });
    expect(registry.getMetricsAsArray()).toHaveLength(6);
    expect(await limitersOn(registry)).toEqual(['a', 'b']);
  });

  if (withOpenMetrics)
    it('writes OpenMetrics on an OpenMetrics registry', async () => {
      const registry = new Registry<OpenMetricsContentType>();
      registry.setContentType(openMetricsContentType);
      const api = new FakeLimiter('api');
      api.admit(2);
      registerMetrics(api, { registry });
      api.admit(20);
      const text = await registry.metrics();
      expect(text).toContain(
        '# TYPE doorman_acquired counter\ndoorman_acquired_total{limiter="api"} 2',
      );
      expect(text).toContain('doorman_wait_seconds_bucket{limiter="api",le="0.025"} 1');
      expect(text).toContain('doorman_wait_seconds_count{limiter="api"} 1');
      expect(text.endsWith('# EOF\n')).toBe(true);
    });

  it('aggregates across cluster workers like prom-client’s own metrics, and resets its histogram', async () => {
    const worker = async (waits: number[]) => {
      const registry = new Registry();
      const api = new FakeLimiter('api');
      registerMetrics(api, { registry });
      for (const ms of waits) api.admit(ms);
      return { registry, json: await registry.getMetricsAsJSON() };
    };
    const one = await worker([0, 3]);
    const two = await worker([0.5, 3000]);
    const merged = await samplesOf(AggregatorRegistry.aggregate([one.json, two.json]));
    expect(merged.get('doorman_acquired_total{limiter="api"}')).toBe(4);
    expect(merged.get('doorman_wait_seconds_bucket{le="0.001",limiter="api"}')).toBe(2);
    expect(merged.get('doorman_wait_seconds_bucket{le="2.5",limiter="api"}')).toBe(3);
    expect(merged.get('doorman_wait_seconds_count{limiter="api"}')).toBe(4);
    expect(merged.get('doorman_wait_seconds_sum{limiter="api"}')).toBeCloseTo(3.0035, 10);

    one.registry.resetMetrics();
    const reset = await samplesOf(one.registry);
    expect(reset.get('doorman_wait_seconds_count{limiter="api"}')).toBe(0);
    expect(reset.get('doorman_acquired_total{limiter="api"}')).toBe(2); // read from the limiter
  });

  it('shares its state with a second copy of the package loaded in the same process', async () => {
    const registry = new Registry();
    const api = new FakeLimiter('api');
    registerMetrics(api, { registry });
    vi.resetModules();
    const copy = await import('@doorman/prometheus');
    expect(copy.registerMetrics).not.toBe(registerMetrics);
    const unregister = copy.registerMetrics([api, new FakeLimiter('db')], { registry });
    expect(await limitersOn(registry)).toEqual(['api', 'db']);
    expect(api.listeners).toHaveLength(1);
    unregister();
    expect(await limitersOn(registry)).toEqual(['api']);
  });
});

describe('bad input', () => {
  it('says what it expected, naming the argument or option and the value given', () => {
    const registry = new Registry();
    const api = new FakeLimiter('api');
    expect(() => registerMetrics([api, { name: 'x' } as never], { registry })).toThrow(
      'Expected `limiters[1]` to be a limiter (name, limit, inUse, waiting, counters, onWait) or a middleware with `.limiter`, got `{"name":"x"}` (object)',
    );
    expect(() => registerMetrics(undefined as never)).toThrow(TypeError);
    expect(() => registerMetrics(api, { registry, regsitry: 'x' } as never)).toThrow(
      "Unknown option `regsitry` in registerMetrics options (given `'x'` (string)); expected one of `registry`, `prefix`, `labels`, `buckets`",
    );
    expect(() => registerMetrics(api, { registry: {} as never })).toThrow(
      /Expected `registry` to be a prom-client Registry/,
    );
    expect(() => registerMetrics(api, { registry, prefix: 'my-app' })).toThrow(RangeError);
    expect(() => registerMetrics(api, { registry, labels: { limiter: 'x' } })).toThrow(
      "Expected the names in `labels` to be other than `limiter`, `reason`, `le`, `quantile` (doorman and Prometheus set those), got `'limiter'` (string)",
    );
    expect(() => registerMetrics(api, { registry, labels: { 'bad-name': 'x' } })).toThrow(
      RangeError,
    );
    expect(() => registerMetrics(api, { registry, labels: { ok: {} as never } })).toThrow(
      'Expected `labels.ok` to be a string or a number, got `{}` (object)',
    );
    expect(() => registerMetrics(api, { registry, buckets: [1, 0.5] })).toThrow(
      'Expected `buckets` to be finite numbers >= 0 in increasing order (+Inf is added), got `[1,0.5]` (array)',
    );
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    expect(registerMetrics([], { registry })).toBeTypeOf('function');
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });
});

/** A limiter that keeps the distributed counters on top of the usual ones. */
class LeasedLimiter extends FakeLimiter {
  leasesLost = 0;
  failOpen = 0;

  override get counters() {
    return { ...super.counters, leasesLost: this.leasesLost, failOpen: this.failOpen };
  }
}

describe('optional metrics', () => {
  it('exports leases lost and fail-open only for the limiters that count them', async () => {
    const registry = new Registry();
    const plain = new Semaphore({ limit: 1, name: 'plain' });
    const unregisterPlain = registerMetrics(plain, { registry });
    expect(registry.getSingleMetric('doorman_leases_lost_total')).toBeUndefined();
    expect(await registry.metrics()).not.toContain('leases_lost');

    const shared = new LeasedLimiter('shared');
    shared.leasesLost = 3;
    shared.failOpen = 2;
    const unregisterShared = registerMetrics(shared, { registry });
    let samples = await samplesOf(registry);
    expect(samples.get('doorman_leases_lost_total{limiter="shared"}')).toBe(3);
    expect(samples.get('doorman_fail_open_total{limiter="shared"}')).toBe(2);
    // Only the limiter that counts them has the series: `plain` has none.
    expect([...samples.keys()].filter((k) => /leases_lost|fail_open/.test(k))).toHaveLength(2);
    shared.leasesLost = 4;
    samples = await samplesOf(registry);
    expect(samples.get('doorman_leases_lost_total{limiter="shared"}')).toBe(4);
    expect(await limitersOn(registry, 'doorman_acquired_total')).toEqual(['plain', 'shared']);

    // The last limiter that has them leaves: the families go, the rest stay.
    unregisterShared();
    expect(registry.getSingleMetric('doorman_leases_lost_total')).toBeUndefined();
    expect(registry.getSingleMetric('doorman_fail_open_total')).toBeUndefined();
    expect(await limitersOn(registry)).toEqual(['plain']);
    unregisterPlain();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });

  it('refuses, leaving no trace, when an optional metric name is taken by another metric', () => {
    const registry = new Registry();
    new Counter({ name: 'doorman_fail_open_total', help: 'not ours', registers: [registry] });
    registerMetrics(new Semaphore({ limit: 1, name: 'plain' }), { registry });
    const before = registry.getMetricsAsArray().length;
    expect(() => registerMetrics(new LeasedLimiter('shared'), { registry })).toThrow(
      /doorman_fail_open_total is already registered/,
    );
    expect(registry.getMetricsAsArray()).toHaveLength(before);
  });
});

describe('fair-share metrics', () => {
  it('shows a per-key limiter’s total and how many keys hold or wait, never a key as a label', async () => {
    const registry = new Registry();
    const plain = new Semaphore({ limit: 1, name: 'plain' });
    const tenants = new KeyedSemaphore({ limit: 2, totalLimit: 3, name: 'tenants' });
    registerMetrics([plain, tenants], { registry });

    const held = [
      await tenants.acquire({ key: 'a' }),
      await tenants.acquire({ key: 'a' }),
      await tenants.acquire({ key: 'b' }),
    ];
    const waiting = [
      tenants.acquire({ key: 'a' }),
      tenants.acquire({ key: 'c' }),
      tenants.acquire({ key: 'c' }),
    ];
    let s = await samplesOf(registry);
    expect(s.get('doorman_permits_total_limit{limiter="tenants"}')).toBe(3);
    expect(s.get('doorman_permits_limit{limiter="tenants"}')).toBe(2);
    expect(s.get('doorman_permits_in_use{limiter="tenants"}')).toBe(3);
    expect(s.get('doorman_keys_active{limiter="tenants"}')).toBe(3);
    expect(s.get('doorman_keys_waiting{limiter="tenants"}')).toBe(2);
    expect(s.get('doorman_waiters{limiter="tenants"}')).toBe(3);
    // Only the per-key limiter has them, and only under its name.
    const keySeries = [...s.keys()].filter((k) => /keys_|total_limit/.test(k));
    expect(keySeries.sort()).toEqual([
      'doorman_keys_active{limiter="tenants"}',
      'doorman_keys_waiting{limiter="tenants"}',
      'doorman_permits_total_limit{limiter="tenants"}',
    ]);

    for (const permit of held) permit.release();
    for (const permit of await Promise.all(waiting)) permit.release();
    s = await samplesOf(registry);
    expect(s.get('doorman_keys_active{limiter="tenants"}')).toBe(0);
    expect(s.get('doorman_keys_waiting{limiter="tenants"}')).toBe(0);
  });

  it('leaves the total out for a per-key limiter without totalLimit', async () => {
    const registry = new Registry();
    registerMetrics(new KeyedSemaphore({ limit: 2, name: 'tenants' }), { registry });
    expect(registry.getSingleMetric('doorman_permits_total_limit')).toBeUndefined();
    expect(registry.getSingleMetric('doorman_keys_active')).toBeDefined();
  });
});
