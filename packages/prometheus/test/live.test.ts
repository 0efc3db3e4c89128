import type { Server } from 'node:http';
import { registerMetrics } from '@doorman/prometheus';
import { Semaphore } from '@doorman/semaphore';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type Framework, type LimitOptions } from './apps.js';
import { close, Holds, listen, samplesOf, until } from './helpers.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(close));
});

async function start(framework: Framework, options: LimitOptions, registry: Registry) {
  const holds = new Holds();
  const { server, middleware } = createApp(framework, options, holds, registry);
  servers.push(server);
  const base = await listen(server);
  const get = async (path: string, signal?: AbortSignal) => {
    const response = await fetch(base + path, signal === undefined ? {} : { signal });
    return { status: response.status, body: await response.text() };
  };
  return { holds, middleware, get };
}

describe.each(['express', 'koa'] as const)('live values over HTTP with %s', (framework) => {
  it('reads in use, waiters, admissions and waits mid-flight while handlers are held open', async () => {
    const registry = new Registry();
    const api = new Semaphore({ limit: 2, maxQueue: 2, name: 'api' });
    const { holds, middleware, get } = await start(framework, { limiter: api }, registry);
    registerMetrics(middleware, { registry });
    const at = async () => {
      const s = await samplesOf(registry);
      return {
        inUse: s.get('doorman_permits_in_use{limiter="api"}'),
        limit: s.get('doorman_permits_limit{limiter="api"}'),
        waiters: s.get('doorman_waiters{limiter="api"}'),
        acquired: s.get('doorman_acquired_total{limiter="api"}'),
        queueFull: s.get('doorman_rejected_total{limiter="api",reason="queue_full"}'),
        waits: s.get('doorman_wait_seconds_count{limiter="api"}'),
        immediate: s.get('doorman_wait_seconds_bucket{le="0",limiter="api"}'),
      };
    };
    expect(await at()).toEqual({
      inUse: 0,
      limit: 2,
      waiters: 0,
      acquired: 0,
      queueFull: 0,
      waits: 0,
      immediate: 0,
    });

    const first = [get('/work/1'), get('/work/2')];
    await holds.until(2);
    expect(await at()).toMatchObject({ inUse: 2, waiters: 0, acquired: 2, waits: 2, immediate: 2 });

    const queued = [get('/work/3'), get('/work/4')];
    await until(api, (s) => s.waiting === 2);
    expect(await at()).toMatchObject({ inUse: 2, waiters: 2, acquired: 2 });

    const shed = await get('/work/5');
    expect(shed.status).toBe(503);
    expect(shed.body).toContain('QUEUE_FULL');
    expect(await at()).toMatchObject({ inUse: 2, waiters: 2, acquired: 2, queueFull: 1 });

    holds.release();
    await holds.until(3);
    expect(await at()).toMatchObject({ inUse: 2, waiters: 1, acquired: 3, waits: 3, immediate: 2 });

    holds.releaseAll();
    await holds.until(4);
    holds.releaseAll();
    for (const response of await Promise.all([...first, ...queued]))
      expect(response.status).toBe(200);
    await until(api, (s) => s.inUse === 0 && s.waiting === 0);
    expect(await at()).toEqual({
      inUse: 0,
      limit: 2,
      waiters: 0,
      acquired: 4,
      queueFull: 1,
      waits: 4,
      immediate: 2,
    });
  });

  it('counts rejections by each reason, produced for real: queue_full, timeout, aborted, closed', async () => {
    const registry = new Registry();
    const api = new Semaphore({ limit: 1, maxQueue: 1, name: 'api' });
    const slow = new Semaphore({ limit: 1, maxQueue: 1, queueTimeoutMs: 10, name: 'slow' });
    const a = await start(framework, { limiter: api }, registry);
    const b = await start(framework, { limiter: slow }, registry);
    registerMetrics(a.middleware, { registry });
    registerMetrics(b.middleware, { registry });

    // api: one holder, then a full queue, a client that gives up, and a close.
    const holder = a.get('/work/holder');
    await a.holds.until(1);
    const leaving = new AbortController();
    const gaveUp = a.get('/work/leaves', leaving.signal).catch((error: unknown) => error);
    await until(api, (s) => s.waiting === 1);
    expect((await a.get('/work/full')).body).toContain('QUEUE_FULL');
    leaving.abort();
    await until(api, (s) => s.counters.rejected.aborted === 1);
    expect(await gaveUp).toBeInstanceOf(Error);
    const closedWhileWaiting = a.get('/work/waits');
    await until(api, (s) => s.waiting === 1);
    await api.close();
    expect(await closedWhileWaiting).toMatchObject({ status: 503 });
    expect((await a.get('/work/after-close')).body).toContain('CLOSED');

    // slow: one holder, and a waiter that times out in the queue.
    const slowHolder = b.get('/work/holder');
    await b.holds.until(1);
    const timedOut = await b.get('/work/times-out');
    expect(timedOut).toMatchObject({ status: 503 });
    expect(timedOut.body).toContain('QUEUE_TIMEOUT');

    a.holds.releaseAll();
    b.holds.releaseAll();
    expect((await holder).status).toBe(200);
    expect((await slowHolder).status).toBe(200);

    const s = await samplesOf(registry);
    const rejected = (limiter: string) =>
      Object.fromEntries(
        ['queue_full', 'timeout', 'aborted', 'closed', 'unavailable'].map((reason) => [
          reason,
          s.get(`doorman_rejected_total{limiter="${limiter}",reason="${reason}"}`),
        ]),
      );
    expect(rejected('api')).toEqual({
      queue_full: 1,
      timeout: 0,
      aborted: 1,
      closed: 2,
      unavailable: 0,
    });
    expect(rejected('slow')).toEqual({
      queue_full: 0,
      timeout: 1,
      aborted: 0,
      closed: 0,
      unavailable: 0,
    });
    expect(s.get('doorman_acquired_total{limiter="api"}')).toBe(1);
    expect(s.get('doorman_acquired_total{limiter="slow"}')).toBe(1);
  });

  it('fills the wait histogram from real waits, consistently with its sum', async () => {
    const registry = new Registry();
    const one = new Semaphore({ limit: 1, name: 'one' });
    const { holds, middleware, get } = await start(framework, { limiter: one }, registry);
    registerMetrics(middleware, { registry });

    const first = get('/work/first');
    await holds.until(1);
    const second = get('/work/second');
    await until(one, (s) => s.waiting === 1);
    holds.release();
    await holds.until(2);
    holds.release();
    await Promise.all([first, second]);

    const s = await samplesOf(registry);
    const bucket = (le: string) => s.get(`doorman_wait_seconds_bucket{le="${le}",limiter="one"}`);
    const waited = s.get('doorman_wait_seconds_sum{limiter="one"}') as number;
    expect(s.get('doorman_wait_seconds_count{limiter="one"}')).toBe(2);
    expect(bucket('+Inf')).toBe(2);
    expect(bucket('0')).toBe(1); // the first was admitted at once
    expect(waited).toBeGreaterThan(0); // the second really waited
    // Whatever the wait was, it sits in every bucket from the first bound above it.
    for (const le of [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]) {
      expect(bucket(String(le))).toBe(waited <= le ? 2 : 1);
    }
  });

  it('reports a per-key limit under its one name, whatever keys clients send', async () => {
    const registry = new Registry();
    const { holds, middleware, get } = await start(
      framework,
      { limit: 1, maxQueue: 0, name: 'tenants', key: (path) => path.split('/')[2] ?? '' },
      registry,
    );
    registerMetrics(middleware, { registry });

    const tenants = ['a', 'b', 'c', 'd', 'e'];
    const pending = tenants.map((tenant) => get(`/work/${tenant}`));
    await holds.until(tenants.length);
    expect((await get('/work/a')).status).toBe(503); // a's one slot is taken

    const s = await samplesOf(registry);
    expect(s.get('doorman_permits_in_use{limiter="tenants"}')).toBe(5);
    expect(s.get('doorman_permits_limit{limiter="tenants"}')).toBe(1); // the limit of each key
    expect(s.get('doorman_rejected_total{limiter="tenants",reason="queue_full"}')).toBe(1);
    const series = [...s.keys()].filter((key) => key.startsWith('doorman_permits_in_use'));
    expect(series).toEqual(['doorman_permits_in_use{limiter="tenants"}']);

    holds.releaseAll();
    await Promise.all(pending);
  });
});
