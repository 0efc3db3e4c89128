import { concurrencyLimit } from '@doorman/express';
import { describe, expect, it } from 'vitest';
import { deferred, open, queued, until, useServers, versions } from './helpers.js';

describe.each(versions)('%s: priority with a full line', (_label, express) => {
  const listen = useServers();

  it('admits a newcomer who outranks everyone waiting when its units are free, even with the line full', async () => {
    const limit = concurrencyLimit({
      limit: 4,
      maxQueue: 1,
      weight: (req) => Number(req.get('x-weight') ?? 1),
      priority: (req) => Number(req.get('x-priority') ?? 0),
    });
    const finish = deferred();
    const app = express();
    app.get('/', limit, async (_req, res) => {
      await finish.promise;
      res.end('ok');
    });
    const port = await listen(app);
    const holders = [open(port, '/'), open(port, '/'), open(port, '/')];
    const heavy = open(port, '/', { headers: { 'x-weight': '2' } });
    await queued(limit.limiter, 1);
    expect(limit.limiter.inUse).toBe(3);
    // The line (1) is full, yet one unit is free and this request outranks the heavy waiter.
    const urgent = open(port, '/', { headers: { 'x-priority': '10' } });
    const refused = await open(port, '/').reply;
    expect(refused.status).toBe(503);
    await until(() => expect(limit.limiter.inUse).toBe(4));
    finish.resolve();
    for (const call of [...holders, heavy, urgent]) expect((await call.reply).status).toBe(200);
  });
});
