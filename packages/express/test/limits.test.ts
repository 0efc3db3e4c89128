import http from 'node:http';
import { concurrencyLimit, type KeyedSemaphore } from '@doorman/express';
import { Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { get, open, queued, Room, useServers, versions } from './helpers.js';

describe.each(versions)(
  '%s: per-route, shared, weighted, keyed and skipped limits',
  (_label, express) => {
    const listen = useServers();

    it('a per-route limit leaves other routes alone', async () => {
      const room = new Room();
      const report = concurrencyLimit({ limit: 1, maxQueue: 0 });
      const app = express();
      app.get('/report', report, room.handler);
      app.get('/other', (_req, res) => {
        res.send('other');
      });
      const port = await listen(app);

      const first = open(port, '/report');
      await room.whenStarted(1);
      expect((await get(port, '/report')).status).toBe(503);
      const other = await Promise.all([get(port, '/other'), get(port, '/other')]);
      expect(other.map((r) => [r.status, r.body])).toEqual([
        [200, 'other'],
        [200, 'other'],
      ]);
      expect(report.limiter.inUse).toBe(1);

      room.releaseAll();
      expect((await first.reply).status).toBe(200);
      expect(report.limiter.inUse).toBe(0);
    });

    it('one Semaphore passed as `limiter` is one budget shared by two routes', async () => {
      const db = new Semaphore({ limit: 2, name: 'db' });
      const a = concurrencyLimit({ limiter: db });
      const b = concurrencyLimit({ limiter: db });
      expect(a.limiter).toBe(db);
      expect(b.limiter).toBe(db);
      const room = new Room();
      const app = express();
      app.get('/a', a, room.handler);
      app.get('/b', b, room.handler);
      const port = await listen(app);

      const onA = open(port, '/a', { headers: { 'x-id': 'a1' } });
      const onB = open(port, '/b', { headers: { 'x-id': 'b1' } });
      await room.whenStarted(2);
      expect(db.inUse).toBe(2);
      // The budget is spent across both routes: a third request waits, whichever route it takes.
      const third = open(port, '/b', { headers: { 'x-id': 'b2' } });
      await queued(db, 1);
      expect(room.started).toHaveLength(2);

      room.releaseNext();
      await room.whenStarted(3);
      expect(room.started[2]).toBe('b2');
      room.releaseAll();
      const replies = await Promise.all([onA.reply, onB.reply, third.reply]);
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(room.peak).toBe(2);
      expect(db.inUse).toBe(0);
      expect(db.counters.acquired).toBe(3);
    });

    it('a numeric `weight` takes that many units of a shared limit', async () => {
      const budget = new Semaphore({ limit: 4 });
      const room = new Room();
      const app = express();
      app.get('/light', concurrencyLimit({ limiter: budget }), room.handler);
      app.get('/heavy', concurrencyLimit({ limiter: budget, weight: 3 }), room.handler);
      const port = await listen(app);

      const heavy = open(port, '/heavy', { headers: { 'x-id': 'heavy' } });
      await room.whenStarted(1);
      expect(budget.inUse).toBe(3);
      const light = open(port, '/light', { headers: { 'x-id': 'light' } });
      await room.whenStarted(2);
      expect(budget.inUse).toBe(4);
      const heavy2 = open(port, '/heavy', { headers: { 'x-id': 'heavy2' } });
      await queued(budget, 1);

      // One light guest leaving frees 1 unit: not enough for a weight of 3.
      room.releaseNext(); // heavy
      await room.whenStarted(3);
      expect(room.started[2]).toBe('heavy2');
      expect(budget.inUse).toBe(4);
      room.releaseAll();
      const replies = await Promise.all([heavy.reply, light.reply, heavy2.reply]);
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(budget.inUse).toBe(0);
    });

    it('a `weight` function sizes each request from the request', async () => {
      const room = new Room();
      const mw = concurrencyLimit({ limit: 4, weight: (req) => Number(req.query['w']) });
      const app = express();
      app.get('/job', mw, room.handler);
      const port = await listen(app);

      const two = open(port, '/job?w=2', { headers: { 'x-id': 'two' } });
      const three = open(port, '/job?w=3', { headers: { 'x-id': 'three' } });
      await room.whenStarted(1);
      await queued(mw.limiter, 1);
      // 2 + 3 > 4: whichever came first runs, the other waits.
      const firstIn = room.started[0];
      expect(mw.limiter.inUse).toBe(firstIn === 'two' ? 2 : 3);
      const one = open(port, '/job?w=1', { headers: { 'x-id': 'one' } });
      await queued(mw.limiter, 2);

      room.releaseNext();
      await room.whenStarted(3);
      expect(mw.limiter.inUse).toBe(firstIn === 'two' ? 3 + 1 : 2 + 1);
      room.releaseAll();
      const replies = await Promise.all([two.reply, three.reply, one.reply]);
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(room.peak).toBe(2);
      expect(mw.limiter.inUse).toBe(0);
    });

    it('`key` gives each tenant its own limit, and the key map is empty afterwards', async () => {
      const room = new Room();
      const mw = concurrencyLimit({ limit: 1, key: (req) => req.get('x-tenant') ?? 'anonymous' });
      const keyed = mw.limiter as KeyedSemaphore;
      const app = express();
      app.get('/sing', mw, room.handler);
      const port = await listen(app);

      const a1 = open(port, '/sing', { headers: { 'x-tenant': 'a', 'x-id': 'a1' } });
      await room.whenStarted(1);
      // Tenant a is at its limit; tenant b is not held back by it.
      const b1 = open(port, '/sing', { headers: { 'x-tenant': 'b', 'x-id': 'b1' } });
      await room.whenStarted(2);
      const a2 = open(port, '/sing', { headers: { 'x-tenant': 'a', 'x-id': 'a2' } });
      await queued(keyed, 1);
      expect(keyed.activeKeys).toBe(2);
      expect(keyed.inUse).toBe(2);
      expect(keyed.waitingOf('a')).toBe(1);

      room.releaseNext(); // a1
      await room.whenStarted(3);
      expect(room.started).toEqual(['a1', 'b1', 'a2']);
      room.releaseAll();
      const replies = await Promise.all([a1.reply, b1.reply, a2.reply]);
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(keyed.activeKeys).toBe(0);
      expect(keyed.inUse).toBe(0);
      expect(keyed.counters.acquired).toBe(3);
      expect(keyed.counters.released).toBe(3);
    });

    it('2,000 distinct keys passing through leave the key map empty', async () => {
      const mw = concurrencyLimit({ limit: 1, key: (req) => String(req.query['tenant']) });
      const keyed = mw.limiter as KeyedSemaphore;
      let peakKeys = 0;
      const app = express();
      app.get('/t', mw, (_req, res) => {
        peakKeys = Math.max(peakKeys, keyed.activeKeys);
        res.send('ok');
      });
      const port = await listen(app);
      // Keep-alive: the permit must go back when the response finishes, not when the connection closes.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      try {
        const replies = await Promise.all(
          Array.from({ length: 2000 }, (_, i) => get(port, `/t?tenant=t${i}`, { agent })),
        );
        expect(replies.every((r) => r.status === 200)).toBe(true);
      } finally {
        agent.destroy();
      }
      expect(peakKeys).toBeGreaterThan(0);
      expect(peakKeys).toBeLessThanOrEqual(16);
      expect(keyed.activeKeys).toBe(0);
      expect(keyed.inUse).toBe(0);
      expect(keyed.counters.acquired).toBe(2000);
      expect(keyed.counters.released).toBe(2000);
    }, 60_000);

    it('`skip` lets a health check through while the limit is full', async () => {
      const room = new Room();
      const mw = concurrencyLimit({ limit: 1, maxQueue: 0, skip: (req) => req.path === '/health' });
      const app = express();
      app.use(mw);
      app.get('/work', room.handler);
      app.get('/health', (_req, res) => {
        res.send('ok');
      });
      const port = await listen(app);

      const work = open(port, '/work');
      await room.whenStarted(1);
      expect((await get(port, '/work')).status).toBe(503);
      const health = await get(port, '/health');
      expect([health.status, health.body]).toEqual([200, 'ok']);
      // The bypass took no permit and was counted nowhere.
      expect(mw.limiter.counters.acquired).toBe(1);
      expect(mw.limiter.counters.rejected.queue_full).toBe(1);

      room.releaseAll();
      expect((await work.reply).status).toBe(200);
      expect(mw.limiter.inUse).toBe(0);
    });
  },
);
