import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import { promisify } from 'node:util';
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

// A real Prometheus (Debian's package, installed by .ci/run) scrapes the
// example app under load with the example's prometheus.yml, and answers every
// dashboard expression through its HTTP query API.

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'doorman-prometheus-'));
let app: Server;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let api = '';
const stopLoad = new AbortController();
let load: Promise<LoadReport>;

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
  const { app: express } = createApp();
  app = createServer(express);
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  load = runLoad({
    url: `http://127.0.0.1:${appPort}/sing`,
    clients: 14,
    durationMs: 120_000,
    signal: stopLoad.signal,
  });

  const config = readFileSync(join(exampleDir, 'prometheus.yml'), 'utf8');
  expect(config).toMatch(/targets: \[["']127\.0\.0\.1:3000["']\]/);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    config.replace('127.0.0.1:3000', `127.0.0.1:${appPort}`),
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
        'count_over_time(doorman_permits_limit{job="doorman-example"}[1m]) >= 5 and on() max_over_time(doorman_waiters[1m]) > 0',
      ),
    (result) => result.length === 1,
  );
}, 90_000);

afterAll(async () => {
  stopLoad.abort();
  await load;
  if (prometheus !== undefined && prometheus.exitCode === null) {
    const exited = once(prometheus, 'exit');
    prometheus.kill('SIGTERM');
    await exited;
  }
  app.closeAllConnections();
  await new Promise((resolve) => app.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('a real Prometheus scraping the example app under load', () => {
  const dashboard = loadDashboard();

  it('scrapes the app with the example prometheus.yml', async () => {
    const up = await query('up{job="doorman-example"}');
    expect(up.map((s) => s.value?.[1])).toEqual(['1']);
    const limit = await query('doorman_permits_limit');
    expect(limit.map((s) => [s.metric['limiter'], s.value?.[1]])).toEqual([['rooms', '4']]);
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
      for (const series of result) expect(series.metric).toMatchObject({ limiter: 'rooms' });
    },
  );

  it('never shows more permits in use than the limit, in any scrape, and reaches the limit', async () => {
    const window = '5m';
    const [inUse, limits] = await Promise.all([
      query(`doorman_permits_in_use[${window}]`),
      query(`doorman_permits_limit[${window}]`),
    ]);
    expect(inUse).toHaveLength(1);
    expect(limits).toHaveLength(1);
    const limitAt = new Map(limits[0]?.values?.map(([t, v]) => [t, Number(v)]));
    const samples = inUse[0]?.values ?? [];
    expect(samples.length).toBeGreaterThanOrEqual(5);
    for (const [t, v] of samples) {
      expect(limitAt.has(t), `a limit sample from the scrape at ${t}`).toBe(true);
      expect(Number(v)).toBeLessThanOrEqual(limitAt.get(t) as number);
    }
    expect(Math.max(...samples.map(([, v]) => Number(v)))).toBe(4);
  });

  it('accepts every PromQL example of the @doorman/prometheus README', async () => {
    const examples = readmeExpressions();
    expect(examples.length).toBeGreaterThanOrEqual(10);
    for (const promql of examples) {
      expect(metricNamesOf(promql).every((name) => name.startsWith('doorman_'))).toBe(true);
      await expect(query(promql), promql).resolves.toBeInstanceOf(Array);
    }
    const utilisation = await query('doorman_permits_in_use / doorman_permits_limit');
    expect(utilisation).toHaveLength(1);
  });
});
