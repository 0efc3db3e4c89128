import type { Server } from 'node:http';
import { registerMetrics } from '@doorman/prometheus';
import type { Semaphore } from '@doorman/semaphore';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from './apps.js';
import { close, Holds, listen, samplesOfText, seriesKey } from './helpers.js';

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map(close));
});

interface Scrape {
  families: ParsedFamily[];
  /** The histogram's samples, by series key (see `samplesOfText`). */
  histogram: Map<string, number>;
}

/**
 * Scrapes `/metrics` over HTTP as Prometheus would, and parses the text with
 * parse-prometheus-text-format. That parser folds every series of a histogram
 * into one and drops labelled `_sum`/`_count` lines, so the histogram's
 * samples are read line by line instead (`samplesOfText`).
 */
async function scrape(base: string): Promise<Scrape> {
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return {
    families: parsePrometheusTextFormat(text),
    histogram: samplesOfText(text, 'doorman_wait_seconds'),
  };
}

/** The values of one limiter in a parsed scrape, as numbers. */
function view({ families, histogram }: Scrape, limiter: string) {
  const family = (name: string) => {
    const found = families.find((f) => f.name === name);
    if (found === undefined) throw new Error(`no ${name} in the scrape`);
    return found.metrics.filter((m) => m.labels?.['limiter'] === limiter);
  };
  const value = (name: string) => Number(family(name)[0]?.value);
  const rejected = Object.fromEntries(
    family('doorman_rejected_total').map((m) => [m.labels?.['reason'], Number(m.value)]),
  );
  const wait = (suffix: string, le?: string) =>
    histogram.get(
      seriesKey(`doorman_wait_seconds_${suffix}`, le === undefined ? { limiter } : { le, limiter }),
    );
  return {
    inUse: value('doorman_permits_in_use'),
    limit: value('doorman_permits_limit'),
    waiters: value('doorman_waiters'),
    acquired: value('doorman_acquired_total'),
    rejected,
    waitCount: wait('count'),
    waitedAtOnce: wait('bucket', '0'),
    waitInf: wait('bucket', '+Inf'),
  };
}

describe('end to end: Express and Koa apps serving /metrics, scraped under load', () => {
  it('shows the held, queued and shed requests of both apps, then the settled totals', async () => {
    const registry = new Registry();
    const apps = (['express', 'koa'] as const).map((framework) => {
      const holds = new Holds();
      const { server, middleware } = createApp(
        framework,
        { limit: 3, maxQueue: 5, name: `${framework}-api` },
        holds,
        registry,
      );
      servers.push(server);
      return { framework, holds, server, middleware };
    });
    registerMetrics(
      apps.map((app) => app.middleware),
      { registry },
    );
    const bases = await Promise.all(apps.map((app) => listen(app.server)));

    // 12 requests on each app: 3 run (held open), 5 wait, 4 are shed at once.
    const load = bases.map((base) =>
      Array.from({ length: 12 }, (_, n) =>
        fetch(`${base}/work/${n}`).then(async (r) => ({
          status: r.status,
          body: await r.text(),
        })),
      ),
    );
    const shed = await Promise.all(
      load.map(async (requests) => {
        let count = 0;
        await new Promise<void>((resolve) => {
          for (const request of requests) {
            void request.then((r) => {
              if (r.status === 503 && ++count === 4) resolve();
            });
          }
        });
        return count;
      }),
    );
    expect(shed).toEqual([4, 4]);
    await Promise.all(apps.map((app) => app.holds.until(3)));

    // Scraped mid-flight, from either app: one registry, both limiters.
    for (const base of bases) {
      const scraped = await scrape(base);
      expect(scraped.families.map((f) => [f.name, f.type])).toEqual([
        ['doorman_permits_in_use', 'GAUGE'],
        ['doorman_permits_limit', 'GAUGE'],
        ['doorman_waiters', 'GAUGE'],
        ['doorman_acquired_total', 'COUNTER'],
        ['doorman_rejected_total', 'COUNTER'],
        ['doorman_wait_seconds', 'HISTOGRAM'],
      ]);
      for (const app of apps) {
        expect(view(scraped, `${app.framework}-api`)).toEqual({
          inUse: 3,
          limit: 3,
          waiters: 5,
          acquired: 3,
          rejected: { queue_full: 4, timeout: 0, aborted: 0, closed: 0, unavailable: 0 },
          waitCount: 3,
          waitedAtOnce: 3,
          waitInf: 3,
        });
      }
    }

    for (const app of apps) app.holds.openAll();
    for (const requests of load) {
      const statuses = (await Promise.all(requests)).map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(8);
    }
    await Promise.all(apps.map((app) => (app.middleware.limiter as Semaphore).idle()));

    const scraped = await scrape(bases[1] as string);
    for (const app of apps) {
      const settled = view(scraped, `${app.framework}-api`);
      expect(settled).toEqual({
        inUse: 0,
        limit: 3,
        waiters: 0,
        acquired: 8,
        rejected: { queue_full: 4, timeout: 0, aborted: 0, closed: 0, unavailable: 0 },
        waitCount: 8,
        waitedAtOnce: 3, // the five that queued waited more than 0 s
        waitInf: 8,
      });
    }
  });
});
