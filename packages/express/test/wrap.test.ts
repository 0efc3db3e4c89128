import { concurrencyLimit } from '@doorman/express';
import { describe, expect, it } from 'vitest';
import { deferred, errorRecorder, open, queued, until, useServers, versions } from './helpers.js';

describe.each(versions)('%s: limit.wrap(handler)', (_label, express) => {
  const listen = useServers();

  it('keeps the permit of a client that gave up until its handler has settled', async () => {
    const limit = concurrencyLimit({ limit: 1 });
    const started = deferred();
    const work = deferred();
    const closed = deferred();
    let running = 0;
    let most = 0;
    const app = express();
    app.get(
      '/slow',
      limit.wrap(async (_req, res) => {
        running++;
        most = Math.max(most, running);
        started.resolve();
        res.once('close', () => closed.resolve());
        await work.promise;
        running--;
        if (!res.destroyed) res.end('done');
      }),
    );
    const port = await listen(app);
    const first = open(port, '/slow');
    await started.promise;
    const second = open(port, '/slow');
    await queued(limit.limiter, 1);
    // The first client gives up: its handler is still working, so the second waits.
    first.req.destroy();
    await closed.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(limit.limiter.inUse).toBe(1);
    expect(limit.limiter.waiting).toBe(1);
    work.resolve();
    expect((await second.reply).body).toBe('done');
    expect(most).toBe(1);
    await until(() => expect(limit.limiter.inUse).toBe(0));
    expect(limit.limiter.counters).toMatchObject({ acquired: 2, released: 2 });
  });

  it('extends the hold of app.use(limit) on the same middleware instead of taking a second permit', async () => {
    const limit = concurrencyLimit({ limit: 1, maxQueue: 0 });
    const work = deferred();
    const started = deferred();
    const closed = deferred();
    const app = express();
    app.use(limit);
    app.get(
      '/x',
      limit.wrap(async (_req, res) => {
        started.resolve();
        res.once('close', () => closed.resolve());
        await work.promise;
        res.end('x');
      }),
    );
    const port = await listen(app);
    const call = open(port, '/x');
    await started.promise;
    expect(limit.limiter.inUse).toBe(1);
    expect(limit.limiter.counters.acquired).toBe(1);
    call.req.destroy();
    // The response closed, but the wrapped handler still works: the permit stays.
    await closed.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(limit.limiter.inUse).toBe(1);
    work.resolve();
    await until(() => expect(limit.limiter.inUse).toBe(0));
    expect(limit.limiter.counters).toMatchObject({ acquired: 1, released: 1 });
  });

  it('hands an async handler rejection to next(err), on every Express major', async () => {
    const limit = concurrencyLimit({ limit: 1 });
    const recorder = errorRecorder();
    const app = express();
    app.get(
      '/boom',
      limit.wrap(async () => {
        await Promise.resolve();
        throw new Error('wrapped boom');
      }),
    );
    app.use(recorder.handler);
    const port = await listen(app);
    const reply = await open(port, '/boom').reply;
    expect(reply.status).toBe(500);
    expect(recorder.errors).toHaveLength(1);
    await until(() => expect(limit.limiter.inUse).toBe(0));
    expect(limit.limiter.counters).toMatchObject({ acquired: 1, released: 1 });
  });

  it('refuses a function that is not one, naming it', () => {
    const limit = concurrencyLimit({ limit: 1 });
    expect(() => limit.wrap('handler' as never)).toThrow(
      "Expected `handler` to be a function, got `'handler'` (string)",
    );
  });
});
