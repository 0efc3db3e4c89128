import { concurrencyLimit, type KeyedSemaphore } from '@doorman/koa';
import { describe, expect, it } from 'vitest';
import { type Call, get, koaVersions, newApp, Stage, serve, until } from './helpers.js';

describe.each(koaVersions)(
  '%s: fair shares across tenants (`key` with `totalLimit`)',
  (_l, KoaApp) => {
    it('serves the other tenants in turn while one tenant floods', async () => {
      const { app } = newApp(KoaApp);
      const stage = new Stage();
      const started: string[] = [];
      const mw = concurrencyLimit({
        limit: 2,
        totalLimit: 2,
        maxQueue: 10,
        key: (ctx) => ctx.get('x-tenant'),
      });
      const keyed = mw.limiter as KeyedSemaphore;
      app.use(mw);
      app.use(async (ctx) => {
        started.push(ctx.get('x-id'));
        await stage.enter();
        ctx.body = ctx.get('x-id');
      });
      const { port } = await serve(app);
      const send = (tenant: string, id: string) =>
        get(port, '/', { 'x-tenant': tenant, 'x-id': id });

      const calls: Call[] = [send('a', 'a1'), send('a', 'a2')];
      await stage.reached(2);
      const later: Array<[string, string]> = [
        ['a', 'a3'],
        ['a', 'a4'],
        ['a', 'a5'],
        ['a', 'a6'],
        ['b', 'b1'],
        ['b', 'b2'],
        ['c', 'c1'],
      ];
      for (const [i, [tenant, id]] of later.entries()) {
        calls.push(send(tenant, id));
        await until(() => keyed.waiting === i + 1, `${id} waits`);
      }
      expect(keyed.waitingKeys).toBe(3);

      // One slot frees at a time. Tenant a holds its whole share (limit 2), so
      // the first free slot goes to b, the next to c, then the tenants take turns.
      for (let n = 3; n <= 9; n++) {
        stage.open(n - 3);
        await stage.reached(n);
      }
      expect(started).toEqual(['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4', 'a5', 'a6']);
      expect(stage.maxActive).toBe(2);

      stage.openAll();
      const replies = await Promise.all(calls.map((c) => c.reply));
      expect(replies.map((r) => r.body).sort()).toEqual([...started].sort());
      await until(() => keyed.activeKeys === 0, 'every key is dropped');
      expect(keyed.counters).toMatchObject({ acquired: 9, released: 9 });
    });

    it('never lets rotating keys hold more than totalLimit', async () => {
      const { app } = newApp(KoaApp);
      const stage = new Stage();
      const mw = concurrencyLimit({
        limit: 1,
        totalLimit: 3,
        maxQueue: 0,
        key: (ctx) => ctx.get('x-tenant'),
      });
      const keyed = mw.limiter as KeyedSemaphore;
      app.use(mw);
      app.use(async (ctx) => {
        await stage.enter();
        ctx.body = 'ok';
      });
      const { port } = await serve(app);
      const admitted = [1, 2, 3].map((i) => get(port, '/', { 'x-tenant': `k${i}` }));
      await stage.reached(3);
      const rotated = await get(port, '/', { 'x-tenant': 'k4' }).reply;
      expect(rotated.status).toBe(503);
      expect(rotated.body).toContain('QUEUE_FULL');
      expect(keyed.inUse).toBe(3);
      stage.openAll();
      await Promise.all(admitted.map((c) => c.reply));
      await until(() => keyed.activeKeys === 0, 'every key is dropped');
    });
  },
);
