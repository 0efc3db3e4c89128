// An AdaptiveSemaphore behind the real Express middleware, over real HTTP:
// each request's release is a sample with the outcome the adapter saw
// (2xx: success, 5xx: dropped, client gone: no sample), and a limit the
// algorithm lowers is the one the middleware admits by.
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AdaptiveSemaphore, type LimitAlgorithm } from '@doorman/adaptive';
import { concurrencyLimit } from '@doorman/express';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';

interface Heard {
  rttMs: number;
  dropped: boolean;
}

function recording(next: (limit: number, heard: Heard) => number) {
  const heard: Heard[] = [];
  const algorithm: LimitAlgorithm = {
    name: 'recording',
    create(bounds) {
      let limit = bounds.initialLimit;
      return {
        onSample(rttMs, _inFlight, dropped) {
          const sample = { rttMs, dropped };
          heard.push(sample);
          limit = next(limit, sample);
          return limit;
        },
      };
    },
  };
  return { algorithm, heard };
}

let server: Server | undefined;
/** The server side of each connection, newest last. */
let sockets: Socket[] = [];
afterEach(async () => {
  server?.closeAllConnections();
  if (server?.listening) await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

async function serve(limiter: AdaptiveSemaphore, release: Promise<void>): Promise<string> {
  const app = express();
  app.use(concurrencyLimit({ limiter }));
  app.get('/ok', (_req, res) => {
    res.send('ok');
  });
  app.get('/fail', (_req, res) => {
    res.status(500).send('broken');
  });
  app.get('/hold', async (_req, res) => {
    await release;
    if (!res.destroyed) res.send('late');
  });
  server = createServer(app);
  sockets = [];
  server.on('connection', (socket) => sockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe('AdaptiveSemaphore behind Express', () => {
  it('samples a 2xx as success and a 5xx as dropped; a client that left gives no sample', async () => {
    const { algorithm, heard } = recording((limit) => limit);
    const limiter = new AdaptiveSemaphore({ initialLimit: 4, algorithm });
    let finish = () => {};
    const held = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const base = await serve(limiter, held);
    expect(await get(`${base}/ok`)).toBe(200);
    expect(await get(`${base}/fail`)).toBe(500);
    expect(heard.map((h) => h.dropped)).toEqual([false, true]);
    expect(heard.every((h) => h.rttMs >= 0)).toBe(true);

    // A client that gives up while its handler still works.
    const gone = request(`${base}/hold`);
    gone.on('error', () => {});
    gone.end();
    while (limiter.inUse === 0) await new Promise((resolve) => setImmediate(resolve));
    const closed = once(sockets.at(-1) as Socket, 'close');
    gone.destroy();
    await closed; // the server saw the client leave; now the handler ends
    finish();
    while (limiter.inUse !== 0) await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toHaveLength(2);
    expect(limiter.counters.released).toBe(3);
  });

  it('admits by the limit the algorithm sets: after drops lower it to 1, a second request waits', async () => {
    const { algorithm } = recording((limit, { dropped }) => (dropped ? 1 : limit));
    const limiter = new AdaptiveSemaphore({ initialLimit: 4, algorithm });
    let finish = () => {};
    const held = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const base = await serve(limiter, held);
    expect(limiter.limit).toBe(4);
    expect(await get(`${base}/fail`)).toBe(500);
    expect(limiter.limit).toBe(1);

    const first = get(`${base}/hold`);
    while (limiter.inUse === 0) await new Promise((resolve) => setImmediate(resolve));
    const second = get(`${base}/ok`);
    while (limiter.waiting === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(limiter.inUse).toBe(1);
    finish();
    expect(await first).toBe(200);
    expect(await second).toBe(200);
    expect(limiter.inUse).toBe(0);
  });
});
