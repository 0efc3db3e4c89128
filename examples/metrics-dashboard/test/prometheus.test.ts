import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../app.js';
import { type LoadReport, runLoad } from '../load.js';
import {
  exampleDir,
  expressionsOf,
  loadDashboard,
  metricNamesOf,
  readmeExpressions,
  toPromQL,
} from './dashboard.js';

// A real Prometheus (Debian's package, installed by .ci/run) scrapes two
// instances of the example app under load with the example's prometheus.yml,
// and answers every dashboard expression through its HTTP query API. The two
// share 3 microphones through a real Redis (a RedisSemaphore), so the
// cluster-wide panels have a distributed limiter to show.

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'doorman-prometheus-'));
const apps: Server[] = [];
const clients: Redis[] = [];
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let api = '';
const stopLoad = new AbortController();
let loads: Array<Promise<LoadReport>> = [];

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

interface Series {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

async function query(promql: string): Promise<Series[]> {
  const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: Series[] };
  };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  return body.data?.result ?? [];
}

/**
 * Asks again until `check` passes or the deadline comes: Prometheus scrapes
 * on its own clock, so the test follows what its query API says.
 */
async function eventually<T>(what: string, ask: () => Promise<T>, check: (v: T) => boolean) {
  const deadline = performance.now() + 60_000;
  let last: T | undefined;
  let failure: unknown;
  while (performance.now() < deadline) {
    try {
      last = await ask();
      if (check(last)) return last;
    } catch (error) {
      failure = error;
    }
    await pause(250);
  }
  throw new Error(
    `Timed out waiting for ${what}; last answer ${JSON.stringify(last)} ${String(failure ?? '')}\n${prometheusLog.slice(-2000)}`,
  );
}

beforeAll(async () => {
  const microphonesKey = `metrics-dashboard-${randomBytes(5).toString('hex')}`;
  const ports: number[] = [];
  for (let i = 0; i < 2; i++) {
    const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
    clients.push(redis);
    const { app: express } = createApp({ redis, microphonesKey });
    const app = createServer(express);
    apps.push(app);
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    ports.push((app.address() as AddressInfo).port);
  }
  // Guests singing (rooms, microphones) and ordering from the kitchen (an
  // adaptive limit), on both instances.
  loads = ports.flatMap((port) => [
    runLoad({
      url: `http://127.0.0.1:${port}/sing`,
      clients: 14,
      durationMs: 120_000,
      signal: stopLoad.signal,
    }),
    runLoad({
      url: `http://127.0.0.1:${port}/order`,
      clients: 6,
      durationMs: 120_000,
      signal: stopLoad.signal,
    }),
  ]);

  const config = readFileSync(join(exampleDir, 'prometheus.yml'), 'utf8');
  expect(config).toMatch(/targets: \[["']127\.0\.0\.1:3000["']\]/);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    config.replace(
      /\[["']127\.0\.0\.1:3000["']\]/,
      JSON.stringify(ports.map((port) => `127.0.0.1:${port}`)),
    ),
  );
  await run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);

  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prometheus.stderr?.setEncoding('utf8');
  prometheus.stderr?.on('data', (chunk: string) => {
    prometheusLog += chunk;
  });
  await eventually(
    'Prometheus to be ready',
    async () => (await fetch(`${api}/-/ready`)).status,
    (status) => status === 200,
  );
  // A few scrapes of the app, with the bar full and guests at the door.
  await eventually(
    'five scrapes under load',
    () =>
      query(
        'min(count_over_time(doorman_permits_limit{job="doorman-example"}[1m])) >= 5 and on() count(doorman_permits_limit) == 6 and on() count(doorman_adaptive_min_latency_seconds) == 2 and on() max(max_over_time(doorman_waiters{limiter="rooms"}[1m])) > 0',
      ),
    (result) => result.length === 1,
  );
}, 90_000);

afterAll(async () => {
  stopLoad.abort();
  await Promise.all(loads);
  if (prometheus !== undefined && prometheus.exitCode === null) {
    const exited = once(prometheus, 'exit');
    prometheus.kill('SIGTERM');
    await exited;
  }
  for (const app of apps) {
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
  }
  for (const redis of clients) redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('a real Prometheus scraping the example app under load', () => {
  const dashboard = loadDashboard();

  it('scrapes both instances with the example prometheus.yml', async () => {
    const up = await query('up{job="doorman-example"}');
    expect(up.map((s) => s.value?.[1])).toEqual(['1', '1']);
    const limit = await query('doorman_permits_limit');
    // The kitchen's limit moves: only its presence is fixed.
    expect(
      limit
        .map((s) =>
          s.metric['limiter'] === 'kitchen' ? 'kitchen' : `${s.metric['limiter']} ${s.value?.[1]}`,
        )
        .sort(),
    ).toEqual(['kitchen', 'kitchen', 'microphones 3', 'microphones 3', 'rooms 4', 'rooms 4']);
  });

  it.each(expressionsOf(dashboard))(
    'returns data for the dashboard expression of "$panel" $refId',
    async ({ expr }) => {
      const promql = toPromQL(dashboard, expr, '10s');
      const result = await eventually(
        promql,
        () => query(promql),
        (series) => series.length > 0 && series.some((s) => Number.isFinite(Number(s.value?.[1]))),
      );
      const limiters = new Set(result.map((series) => series.metric['limiter']));
      // The distributed-only panels show the shared microphones and never the
      // local rooms and kitchen; the adaptive panel only the kitchen.
      const distributedOnly = /doorman_leases_lost_total|doorman_fail_open_total/.test(expr);
      const local = expr.includes('unless on');
      expect([...limiters].sort()).toEqual(
        expr.includes('doorman_adaptive_')
          ? ['kitchen']
          : distributedOnly && !local
            ? ['microphones']
            : local && !expr.includes('sum by')
              ? ['kitchen', 'rooms']
              : ['kitchen', 'microphones', 'rooms'],
      );
    },
  );

  it('shows the shared microphones cluster-wide: in use summed over both instances, against one limit', async () => {
    const dashboardExpr = expressionsOf(dashboard).find(
      (e) => e.panel === 'Cluster-wide in use against the shared limit' && e.refId === 'B',
    );
    const limit = await query(toPromQL(dashboard, dashboardExpr?.expr ?? ''));
    expect(limit.map((s) => [s.metric['limiter'], s.value?.[1]])).toEqual([['microphones', '3']]);
    // Both instances hold microphones over the run: the sum is over two series.
    const perInstance = await query(
      'max_over_time(doorman_permits_in_use{limiter="microphones"}[5m]) > 0',
    );
    expect(perInstance).toHaveLength(2);
  });

  it('never shows more rooms in use than the limit, in any scrape of either instance, and reaches it', async () => {
    const window = '5m';
    const [inUse, limits] = await Promise.all([
      query(`doorman_permits_in_use{limiter="rooms"}[${window}]`),
      query(`doorman_permits_limit{limiter="rooms"}[${window}]`),
    ]);
    expect(inUse).toHaveLength(2);
    expect(limits).toHaveLength(2);
    for (const series of inUse) {
      const instance = series.metric['instance'];
      const limit = limits.find((l) => l.metric['instance'] === instance);
      const limitAt = new Map(limit?.values?.map(([t, v]) => [t, Number(v)]));
      const samples = series.values ?? [];
      expect(samples.length).toBeGreaterThanOrEqual(5);
      for (const [t, v] of samples) {
        expect(limitAt.has(t), `a limit sample from the scrape at ${t}`).toBe(true);
        expect(Number(v)).toBeLessThanOrEqual(limitAt.get(t) as number);
      }
      expect(Math.max(...samples.map(([, v]) => Number(v)))).toBe(4);
    }
  });

  it('accepts every PromQL example of the @doorman/prometheus README', async () => {
    const examples = readmeExpressions();
    expect(examples.length).toBeGreaterThanOrEqual(10);
    for (const promql of examples) {
      expect(metricNamesOf(promql).every((name) => name.startsWith('doorman_'))).toBe(true);
      await expect(query(promql), promql).resolves.toBeInstanceOf(Array);
    }
    const utilisation = await query('doorman_permits_in_use / doorman_permits_limit');
    expect(utilisation).toHaveLength(6);
  });

  it("shows the latency the kitchen's adaptive limit learned: an order's time alone, 20 to 30 ms", async () => {
    const learned = await query('doorman_adaptive_min_latency_seconds');
    expect(learned.map((s) => s.metric['limiter'])).toEqual(['kitchen', 'kitchen']);
    for (const series of learned) {
      const seconds = Number(series.value?.[1]);
      expect(seconds).toBeGreaterThanOrEqual(0.02);
      expect(seconds).toBeLessThan(0.1);
    }
  });
});
