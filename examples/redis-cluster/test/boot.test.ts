// Boots the example with its one command (4 workers on a fresh key, on the
// Redis at 127.0.0.1:6379), sends it concurrent requests, and reads every
// worker's /metrics: the workers share one limit, and their numbers add up.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningExample, startExample } from '../../../test/support/example-process.js';
import { sample } from '../metrics-text.js';

const dir = fileURLToPath(new URL('..', import.meta.url));
const LIMIT = 3;
let example: RunningExample;
let metricsUrls: string[];

beforeAll(async () => {
  example = await startExample(dir, ['start'], {
    METRICS_PORT: '0',
    LIMIT: String(LIMIT),
    WORK_MS: '30',
    KEY: `example-${randomBytes(4).toString('hex')}`,
  });
  await vi.waitFor(() => expect(example.output()).toMatch(/metrics: .*\n/));
  metricsUrls = (/metrics: (.*)\n/.exec(example.output())?.[1] ?? '').split(' ');
}, 60_000);

afterAll(async () => {
  await example?.stop();
});

const scrape = () => Promise.all(metricsUrls.map(async (url) => (await fetch(url)).text()));

describe('examples/redis-cluster', () => {
  it('runs 4 workers that share one limit and each export their own metrics', async () => {
    expect(metricsUrls).toHaveLength(4);
    const responses = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const res = await fetch(`${example.url}/work`);
        return { status: res.status, body: (await res.json()) as { worker: number } };
      }),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(16).fill(200));
    expect(new Set(responses.map((r) => r.body.worker)).size).toBeGreaterThan(1);

    await vi.waitFor(async () => {
      const texts = await scrape();
      const sum = (name: string) =>
        texts.reduce((s, t) => s + sample(t, name, { limiter: 'api' }), 0);
      // Each worker reports the shared limit, and its own share of the work.
      for (const t of texts) expect(sample(t, 'doorman_permits_limit')).toBe(LIMIT);
      expect(sum('doorman_acquired_total')).toBe(16);
      expect(sum('doorman_permits_in_use')).toBe(0);
      expect(sum('doorman_waiters')).toBe(0);
      // Only the workers that served requests counted them.
      expect(texts.filter((t) => sample(t, 'doorman_acquired_total') > 0).length).toBe(
        new Set(responses.map((r) => r.body.worker)).size,
      );
    });
  });
});
