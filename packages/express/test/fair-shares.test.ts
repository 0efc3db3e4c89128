import { concurrencyLimit, KeyedSemaphore } from '@doorman/express';
import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { deferred, open, until, useServers, versions } from './helpers.js';

// The round robin of keys and `totalLimit` against key rotation are in the
// adapter contract (test/contract/fair-shares.ts), on every framework.
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
