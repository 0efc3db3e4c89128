import { concurrencyLimit, KeyedSemaphore } from '@doorman/express';
import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import {
  deferred,
  type OpenRequest,
  open,
  queued,
  Room,
  until,
  useServers,
  versions,
} from './helpers.js';

describe.each(versions)(
  '%s: fair shares across tenants (`key` with `totalLimit`)',
  (_l, express) => {
    const listen = useServers();

    it('serves the other tenants in turn while one tenant floods', async () => {
      const room = new Room();
      const mw = concurrencyLimit({
        limit: 2,
        totalLimit: 2,
        maxQueue: 10,
        key: (req) => req.get('x-tenant') ?? 'anonymous',
      });
      const keyed = mw.limiter as KeyedSemaphore;
      const app = express();
      app.get('/sing', mw, room.handler);
      const port = await listen(app);
      const send = (tenant: string, id: string) =>
        open(port, '/sing', { headers: { 'x-tenant': tenant, 'x-id': id } });

      const requests: OpenRequest[] = [send('a', 'a1'), send('a', 'a2')];
      await room.whenStarted(2);
      // Tenant a floods: four more wait. Then b and c arrive, one after the other.
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
        requests.push(send(tenant, id));
        await queued(keyed, i + 1);
      }
      expect(keyed.waitingKeys).toBe(3);
      expect(keyed.waitingOf('a')).toBe(4);

      // One slot frees at a time. Tenant a holds its whole share (limit 2), so
      // the first free slot goes to b, the next to c, then the tenants take turns.
      for (let n = 3; n <= 9; n++) {
        room.releaseNext();
        await room.whenStarted(n);
      }
      expect(room.started).toEqual(['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4', 'a5', 'a6']);
      expect(room.peak).toBe(2);

      room.releaseAll();
      const replies = await Promise.all(requests.map((r) => r.reply));
      expect(replies.every((r) => r.status === 200)).toBe(true);
      expect(keyed.activeKeys).toBe(0);
      expect(keyed.inUse).toBe(0);
      expect(keyed.counters).toMatchObject({ acquired: 9, released: 9 });
    });

    it('never lets rotating keys hold more than totalLimit', async () => {
      const room = new Room();
      const mw = concurrencyLimit({
        limit: 1,
        totalLimit: 3,
        maxQueue: 0,
        key: (req) => req.get('x-tenant') ?? 'anonymous',
      });
      const keyed = mw.limiter as KeyedSemaphore;
      const app = express();
      app.get('/sing', mw, room.handler);
      const port = await listen(app);

      const admitted = [1, 2, 3].map((i) =>
        open(port, '/sing', { headers: { 'x-tenant': `k${i}`, 'x-id': `k${i}` } }),
      );
      await room.whenStarted(3);
      // A fresh key for every request: each is a new tenant, yet the total is spent.
      const rotated = await open(port, '/sing', { headers: { 'x-tenant': 'k4', 'x-id': 'k4' } })
        .reply;
      expect(rotated.status).toBe(503);
      expect(rotated.body).toContain('QUEUE_FULL');
      expect(keyed.inUse).toBe(3);
      room.releaseAll();
      await Promise.all(admitted.map((r) => r.reply));
      expect(keyed.activeKeys).toBe(0);
    });
  },
);

describe.each(versions)('%s: one KeyedSemaphore shared by two routes', (_label, express) => {
  const listen = useServers();

  it('counts a tenant on both routes against one share', async () => {
    const tenants = new KeyedSemaphore({ limit: 1, maxQueue: 0 });
    const byTenant = (req: Request) => req.get('x-tenant') ?? '';
    const finish = deferred();
    const app = express();
    const hold = async (_req: Request, res: Response) => {
      await finish.promise;
      res.end('ok');
    };
    app.get('/a', concurrencyLimit({ limiter: tenants, key: byTenant }), hold);
    app.get('/b', concurrencyLimit({ limiter: tenants, key: byTenant }), hold);
    const port = await listen(app);
    const first = open(port, '/a', { headers: { 'x-tenant': 't1' } });
    await until(() => expect(tenants.inUseOf('t1')).toBe(1));
    // The same tenant on the other route finds its share taken; another tenant does not.
    expect((await open(port, '/b', { headers: { 'x-tenant': 't1' } }).reply).status).toBe(503);
    const other = open(port, '/b', { headers: { 'x-tenant': 't2' } });
    await until(() => expect(tenants.inUse).toBe(2));
    finish.resolve();
    expect((await first.reply).status).toBe(200);
    expect((await other.reply).status).toBe(200);
    await until(() => expect(tenants.inUse).toBe(0));
  });
});
