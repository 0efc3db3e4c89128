import http from 'node:http';
import { concurrencyLimit } from '@doorman/koa';
import { type KeyedSemaphore, Semaphore } from '@doorman/semaphore';
import Router from '@koa/router';
import { describe, expect, it } from 'vitest';
import { get, koaVersions, newApp, Stage, serve, until } from './helpers.js';

describe.each(koaVersions)(
  '%s: per-route limits, shared limiters, weight and key',
  (_label, KoaApp) => {
    it('limits one @koa/router route and leaves the other routes alone', async () => {
      const { app } = newApp(KoaApp);
      const stage = new Stage();
      const router = new Router();
      const report = concurrencyLimit({ limit: 1, maxQueue: 0 });
      router.get('/report', report, async (ctx) => {
        await stage.enter();
        ctx.body = 'report';
      });
      router.get('/ping', (ctx) => {
        ctx.body = 'pong';
      });
      app.use(router.routes());
      const { port } = await serve(app);

      const held = get(port, '/report');
      await stage.reached(1);
      const shed = await get(port, '/report').reply;
      expect(shed.status).toBe(503);
      expect(shed.body).toContain('QUEUE_FULL');
      const pings = await Promise.all([get(port, '/ping'), get(port, '/ping')].map((c) => c.reply));
      expect(pings.map((r) => [r.status, r.body])).toEqual([
        [200, 'pong'],
        [200, 'pong'],
      ]);
      const sem = report.limiter as Semaphore;
      expect(sem.inUse).toBe(1);
      expect(sem.counters.acquired).toBe(1);

      stage.openAll();
      expect((await held.reply).body).toBe('report');
      await sem.idle();
    });

    it('shares one Semaphore between two routes through `limiter`', async () => {
      const { app } = newApp(KoaApp);
      const stage = new Stage();
      const db = new Semaphore({ limit: 2, maxQueue: 0, name: 'db' });
      const router = new Router();
      const a = concurrencyLimit({ limiter: db });
      const b = concurrencyLimit({ limiter: db });
      const handler = async (ctx: { body: unknown; path: string }) => {
        await stage.enter();
        ctx.body = ctx.path;
      };
      router.post('/a', a, handler);
      router.post('/b', b, handler);
      router.get('/a', a, handler);
      router.get('/b', b, handler);
      app.use(router.routes());
      const { port } = await serve(app);
      expect(a.limiter).toBe(db);
      expect(b.limiter).toBe(db);

      const onA = get(port, '/a');
      const onB = get(port, '/b');
      await stage.reached(2);
      expect(db.inUse).toBe(2);
      const shedA = await get(port, '/a').reply;
      const shedB = await get(port, '/b').reply;
      expect([shedA.status, shedB.status]).toEqual([503, 503]);
      expect(db.counters.rejected.queue_full).toBe(2);

      stage.open(0);
      expect((await onA.reply).body).toBe('/a');
      await until(() => db.inUse === 1, 'route /a gave its unit back');
      const later = get(port, '/b');
      await stage.reached(3);
      expect(db.inUse).toBe(2);
      stage.openAll();
      expect((await onB.reply).body).toBe('/b');
      expect((await later.reply).body).toBe('/b');
      await db.idle();
    });

    it('takes `weight` units per request (a number)', async () => {
      const { app } = newApp(KoaApp);
      const stage = new Stage();
      const budget = new Semaphore({ limit: 4, maxQueue: 10 });
      const router = new Router();
      router.get('/heavy', concurrencyLimit({ limiter: budget, weight: 3 }), async (ctx) => {
        await stage.enter();
        ctx.body = 'heavy';
      });
      router.get('/light', concurrencyLimit({ limiter: budget }), async (ctx) => {
        await stage.enter();
        ctx.body = 'light';
      });
      app.use(router.routes());
      const { port } = await serve(app);

      const heavy = get(port, '/heavy');
      await stage.reached(1);
      expect(budget.inUse).toBe(3);
      const light = get(port, '/light');
      await stage.reached(2);
      expect(budget.inUse).toBe(4);
      const secondHeavy = get(port, '/heavy');
      await until(() => budget.waiting === 1, 'the second heavy request waits');
      expect(stage.entered).toBe(2);

      stage.open(1); // the light one leaves: 3 held, a heavy (3) still does not fit
      expect((await light.reply).body).toBe('light');
      await until(() => budget.inUse === 3, 'the light unit is back');
      expect(budget.waiting).toBe(1);
      expect(stage.entered).toBe(2);

      stage.open(0); // the heavy one leaves: the second heavy gets in
      expect((await heavy.reply).body).toBe('heavy');
      await stage.reached(3);
      expect(budget.inUse).toBe(3);
      stage.openAll();
      expect((await secondHeavy.reply).body).toBe('heavy');
      await budget.idle();
      expect(budget.counters.acquired).toBe(3);
      expect(budget.counters.released).toBe(3);
    });

    it('takes `weight` units per request (a function of ctx)', async () => {
      const { app } = newApp(KoaApp);
      const stage = new Stage();
      const seen: number[] = [];
      const mw = concurrencyLimit({
        limit: 4,
        weight: (ctx) => {
          const w = Number(ctx.query['w'] ?? 1);
          seen.push(w);
          return w;
        },
      });
      app.use(mw);
      app.use(async (ctx) => {
        await stage.enter();
        ctx.body = 'ok';
      });
      const { port } = await serve(app);
      const sem = mw.limiter as Semaphore;

      const all = get(port, '/?w=4');
      await stage.reached(1);
      expect(sem.inUse).toBe(4);
      const one = get(port, '/?w=1');
      await until(() => sem.waiting === 1, 'a weight-1 request waits behind weight 4');
      expect(stage.entered).toBe(1);
      stage.openAll();
      expect((await all.reply).status).toBe(200);
      expect((await one.reply).status).toBe(200);
      await sem.idle();
      expect(seen).toEqual([4, 1]);
    });

    it('keeps a separate limit per `key`: tenants do not block each other, and idle keys are dropped', async () => {
      const { app } = newApp(KoaApp);
      const stage = new Stage();
      const mw = concurrencyLimit({ limit: 1, maxQueue: 0, key: (ctx) => ctx.get('x-tenant') });
      app.use(mw);
      app.use(async (ctx) => {
        await stage.enter();
        ctx.body = ctx.get('x-tenant');
      });
      const { port } = await serve(app);
      const keyed = mw.limiter as KeyedSemaphore;

      const a1 = get(port, '/', { 'x-tenant': 'a' });
      await stage.reached(1);
      const a2 = await get(port, '/', { 'x-tenant': 'a' }).reply;
      expect(a2.status).toBe(503);
      expect(a2.body).toContain('QUEUE_FULL');
      const b1 = get(port, '/', { 'x-tenant': 'b' });
      await stage.reached(2);
      expect(keyed.activeKeys).toBe(2);
      expect(keyed.inUse).toBe(2);
      expect(keyed.limit).toBe(1);

      stage.openAll();
      expect((await a1.reply).body).toBe('a');
      expect((await b1.reply).body).toBe('b');
      await until(() => keyed.activeKeys === 0, 'both keys are dropped');
      expect(keyed.inUse).toBe(0);
      expect(keyed.waiting).toBe(0);
      expect(keyed.counters).toMatchObject({ acquired: 2, released: 2 });
      expect(keyed.counters.rejected.queue_full).toBe(1);
    });

    it('leaves the key map empty after 2,000 distinct keys', async () => {
      const { app } = newApp(KoaApp);
      let largest = 0;
      const mw = concurrencyLimit({ limit: 1, key: (ctx) => ctx.get('x-key') });
      const keyed = mw.limiter as KeyedSemaphore;
      app.use(mw);
      app.use((ctx) => {
        largest = Math.max(largest, keyed.activeKeys);
        ctx.body = 'ok';
      });
      const { port } = await serve(app);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      try {
        const one = (key: string) =>
          new Promise<number>((resolve, reject) => {
            const req = http.get(
              { host: '127.0.0.1', port, path: '/', agent, headers: { 'x-key': key } },
              (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode ?? 0));
                res.on('error', reject);
              },
            );
            req.on('error', reject);
          });
        const statuses = await Promise.all(Array.from({ length: 2000 }, (_, i) => one(`k${i}`)));
        expect(statuses.every((s) => s === 200)).toBe(true);
      } finally {
        agent.destroy();
      }
      await until(() => keyed.activeKeys === 0, 'every key is dropped');
      expect(largest).toBeGreaterThan(0);
      expect(keyed.counters.acquired).toBe(2000);
      expect(keyed.counters.released).toBe(2000);
      expect(keyed.inUse).toBe(0);
    });
  },
);
