import { concurrencyLimit } from '@doorman/express';
import type { Request } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Deferred,
  deferred,
  type OpenRequest,
  open,
  useServers,
  versions,
} from './helpers.js';

/** A tiny seeded PRNG (mulberry32): the same seed gives the same storm. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'ok' | 'throw' | 'next';

interface Guest {
  id: number;
  kind: Kind;
  client: OpenRequest;
  // What the client saw.
  status?: number;
  body?: string;
  abortedWhile?: 'queued' | 'running';
  // What the server saw.
  arrived: boolean;
  started: boolean;
  closed: boolean;
  go?: Deferred<void>;
  told: boolean;
}

const TOTAL = 500;
const LIMIT = 8;
const MAX_QUEUE = 20;
// Fake time: a queue timeout happens only when the storm says so.
const QUEUE_TIMEOUT_MS = 1000;

describe.each(versions)('%s: storm', (_label, express) => {
  const listen = useServers();
  afterEach(() => {
    vi.useRealTimers();
  });

  it(`${TOTAL} requests of every kind leave no permit behind and the counters balance`, async () => {
    // Only the semaphore's timers are faked; HTTP runs on Node's own timers.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const random = prng(0x6b747620);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

    const guests: Guest[] = [];
    const guestOf = (req: Request) => guests[Number(req.get('x-id'))] as Guest;
    const mw = concurrencyLimit({
      limit: LIMIT,
      maxQueue: MAX_QUEUE,
      queueTimeoutMs: QUEUE_TIMEOUT_MS,
      name: 'storm',
    });
    const app = express();
    app.use((req, res, next) => {
      const guest = guestOf(req);
      guest.arrived = true;
      res.on('close', () => {
        guest.closed = true;
      });
      next();
    });
    app.get(
      '/storm',
      mw,
      async (req, _res, next) => {
        const guest = guestOf(req);
        guest.started = true;
        guest.go = deferred();
        await guest.go.promise;
        next();
      },
      (req, res, next) => {
        const guest = guestOf(req);
        if (guest.kind === 'throw') throw new Error('storm throw');
        if (guest.kind === 'next') next(new Error('storm next'));
        else res.send('ok');
      },
    );
    app.use((err: Error, _req: Request, res: import('express').Response, _next: () => void) => {
      res.status(500).send(err.message);
    });
    const port = await listen(app);

    const send = (kind: Kind) => {
      const id = guests.length;
      const client = open(port, '/storm', { headers: { 'x-id': String(id) } });
      const guest: Guest = {
        id,
        kind,
        client,
        arrived: false,
        started: false,
        closed: false,
        told: false,
      };
      client.reply.then(
        (reply) => {
          guest.status = reply.status;
          guest.body = reply.body;
        },
        () => {},
      );
      guests.push(guest);
    };
    const running = () => guests.filter((g) => g.started && !g.told && !g.abortedWhile);
    const queuedNow = () => guests.filter((g) => g.arrived && !g.started && !g.closed);

    /** Everything in flight has landed: the server's view and the limiter's agree. */
    const quiet = () =>
      guests.every(
        (g) =>
          g.arrived &&
          (!(g.told || g.abortedWhile) || g.closed) &&
          (!g.closed || g.abortedWhile !== undefined || g.status !== undefined),
      ) &&
      mw.limiter.inUse === guests.filter((g) => g.started && !g.closed).length &&
      mw.limiter.waiting === queuedNow().length;
    const settle = async () => {
      const deadline = performance.now() + 10_000;
      while (!quiet()) {
        if (performance.now() > deadline) throw new Error('the storm did not settle');
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      expect(mw.limiter.inUse).toBeLessThanOrEqual(LIMIT);
      expect(mw.limiter.waiting).toBeLessThanOrEqual(MAX_QUEUE);
    };
    const finish = (guest: Guest) => {
      guest.told = true;
      guest.go?.resolve();
    };

    while (guests.length < TOTAL) {
      const roll = random();
      if (roll < 0.4) {
        const batch = Math.min(1 + Math.floor(random() * 10), TOTAL - guests.length);
        for (let i = 0; i < batch; i++) send(pick(['ok', 'ok', 'throw', 'next'] as const));
      } else if (roll < 0.8) {
        const n = 1 + Math.floor(random() * 6);
        for (let i = 0; i < n && running().length > 0; i++) finish(pick(running()));
      } else if (roll < 0.88) {
        const guest = running().length > 0 ? pick(running()) : undefined;
        if (guest !== undefined) {
          guest.abortedWhile = 'running';
          guest.client.req.destroy();
        }
      } else if (roll < 0.97) {
        const guest = queuedNow().length > 0 ? pick(queuedNow()) : undefined;
        if (guest !== undefined) {
          guest.abortedWhile = 'queued';
          guest.client.req.destroy();
        }
      } else {
        vi.advanceTimersByTime(QUEUE_TIMEOUT_MS);
      }
      await settle();
    }
    // Last orders: let everyone still inside finish, until nobody is left.
    while (running().length > 0) {
      for (const guest of running()) finish(guest);
      await settle();
    }
    // Handlers of clients who left mid-song finish too, into a closed connection.
    for (const guest of guests) if (guest.abortedWhile === 'running') guest.go?.resolve();
    await settle();

    expect(mw.limiter.inUse).toBe(0);
    expect(mw.limiter.waiting).toBe(0);

    const seen = { ok: 0, failed: 0, full: 0, timeout: 0, abortedQueued: 0, abortedRunning: 0 };
    for (const g of guests) {
      if (g.abortedWhile === 'queued') {
        seen.abortedQueued++;
        expect(g.started, `guest ${g.id} left the queue, its handler never ran`).toBe(false);
        continue;
      }
      if (g.abortedWhile === 'running') {
        seen.abortedRunning++;
        continue;
      }
      // Everyone who stayed connected got an answer.
      expect(g.status, `guest ${g.id} got a response`).toBeDefined();
      if (g.started) {
        if (g.kind === 'ok') {
          expect([g.status, g.body]).toEqual([200, 'ok']);
          seen.ok++;
        } else {
          expect([g.status, g.body]).toEqual([500, `storm ${g.kind}`]);
          seen.failed++;
        }
      } else {
        expect(g.status).toBe(503);
        expect([
          'Service Unavailable (QUEUE_FULL)\n',
          'Service Unavailable (QUEUE_TIMEOUT)\n',
        ]).toContain(g.body);
        if (g.body?.includes('QUEUE_FULL')) seen.full++;
        else seen.timeout++;
      }
    }

    const counters = mw.limiter.counters;
    const started = guests.filter((g) => g.started).length;
    expect(counters.acquired).toBe(started);
    expect(counters.released).toBe(counters.acquired);
    expect(counters.rejected).toEqual({
      queue_full: seen.full,
      timeout: seen.timeout,
      aborted: seen.abortedQueued,
      closed: 0,
      unavailable: 0,
    });
    expect(counters.acquired + seen.full + seen.timeout + seen.abortedQueued).toBe(TOTAL);
    // The storm really had every kind of weather.
    for (const [outcome, count] of Object.entries(seen)) {
      expect(count, `${outcome} happened`).toBeGreaterThan(0);
    }
  }, 60_000);
});
