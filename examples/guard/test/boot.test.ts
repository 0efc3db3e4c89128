import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningExample, startExample } from '../../../test/support/example-process.js';

let example: RunningExample;
let base: string;

// The upstream answers after a minute unless told otherwise (?ms=): the test
// decides when calls end, by leaving.
beforeAll(async () => {
  example = await startExample(fileURLToPath(new URL('..', import.meta.url)), ['start'], {
    UPSTREAM_MS: '60000',
  });
  base = example.url;
});

afterAll(() => example.stop());

interface Stats {
  guard: { inUse: number; waiting: number };
  upstream: { started: number; answered: number; cancelled: number };
}

async function stats(): Promise<Stats> {
  return (await (await fetch(`${base}/stats`)).json()) as Stats;
}

function until(check: () => Promise<void>): Promise<void> {
  return vi.waitFor(check, { interval: 5, timeout: 5000 });
}

describe('examples/guard', () => {
  it('serves through the guard into Express', async () => {
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ ok: true });
    const quote = await fetch(`${base}/quote?ms=1`);
    expect(quote.headers.get('x-powered-by')).toBe('Express');
    expect(await quote.json()).toEqual({ price: 42 });
  });

  it('refuses before Express runs, and cancels upstream calls when clients leave', async () => {
    const clients = [1, 2, 3, 4].map(() => {
      const req = http.get(`${base}/quote`);
      req.on('error', () => {});
      return req;
    });
    await until(async () => expect((await stats()).guard).toEqual({ inUse: 2, waiting: 2 }));

    const refused = await fetch(`${base}/quote`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.text()).toBe('Service Unavailable (QUEUE_FULL)\n');
    // Written by the guard with writeHead + end: Express never saw it.
    expect(refused.headers.get('x-powered-by')).toBeNull();

    for (const client of clients) client.destroy();
    await until(async () => {
      const now = await stats();
      expect(now.guard).toEqual({ inUse: 0, waiting: 0 });
      // Every upstream call of a client that left was cancelled (the two
      // admitted, and any queued one admitted before its client's close was seen).
      expect(now.upstream.cancelled).toBeGreaterThanOrEqual(2);
      expect(now.upstream.cancelled).toBe(now.upstream.started - now.upstream.answered);
    });
    expect((await stats()).upstream.answered).toBe(1);
  });
});
