// Regressions: each of these once failed (leaked a permit, or lifted the
// limit unseen). The comment above each test says how.

import { PassThrough } from 'node:stream';
import { concurrencyLimit } from '@doorman/koa';
import type { Semaphore } from '@doorman/semaphore';
import Router from '@koa/router';
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { get, koaVersions, newApp, Stage, serve, until } from './helpers.js';

describe.each(koaVersions)('%s: regressions', (_label, KoaApp) => {
  // Two middlewares on one request once shared a slot on ctx.res: the inner
  // hold overwrote the outer one, whose permit was never released, and the
  // app-wide limit ran dry after `limit` requests.
  it('releases both permits when an app-wide limit and a per-route limit admit the same request', async () => {
    const { app } = newApp(KoaApp);
    const stage = new Stage();
    const appWide = concurrencyLimit({ limit: 1, maxQueue: 0, name: 'api' });
    const perRoute = concurrencyLimit({ limit: 2, name: 'report' });
    const router = new Router();
    router.get('/report', perRoute, async (ctx) => {
      await stage.enter();
      ctx.body = 'report';
    });
    app.use(appWide);
    app.use(router.routes());
    const { port } = await serve(app);
    const outer = appWide.limiter as Semaphore;
    const inner = perRoute.limiter as Semaphore;

    const call = get(port, '/report');
    await stage.reached(1);
    expect([outer.inUse, inner.inUse]).toEqual([1, 1]);
    stage.openAll();
    expect((await call.reply).body).toBe('report');
    await until(() => inner.inUse === 0, 'the per-route permit is back');
    await until(() => outer.inUse === 0, 'the app-wide permit is back', 20_000);
    // The app-wide room is free again: the next request gets in.
    const second = get(port, '/report');
    await stage.reached(2);
    expect((await second.reply).status).toBe(200);
    await until(() => outer.inUse === 0 && inner.inUse === 0, 'both permits are back', 20_000);
    expect(outer.counters).toMatchObject({ acquired: 2, released: 2 });
    expect(inner.counters).toMatchObject({ acquired: 2, released: 2 });
  });

  // A client that left during a slow upstream step had closed its response
  // before the middleware attached its close listener: the event never came,
  // and the permit outlived the request.
  // `skip` was read for truthiness: an async skip returns a Promise, which
  // let every request past the limit.
  it.each<[string, unknown]>([
    ['a Promise (an async skip)', Promise.resolve(false)],
    ['undefined', undefined],
    ['a string', 'yes'],
  ])('answers 500 when `skip` returns %s, instead of bypassing', async (_name, returned) => {
    const { app, errors } = newApp(KoaApp);
    let handled = 0;
    const mw = concurrencyLimit({
      limit: 1,
      maxQueue: 0,
      skip: (() => returned) as unknown as (ctx: Context) => boolean,
    });
    app.use(mw);
    app.use((ctx) => {
      handled++;
      ctx.body = 'ok';
    });
    const { port } = await serve(app);
    const sem = mw.limiter as Semaphore;
    const reply = await get(port, '/work').reply;
    expect(reply.status).toBe(500);
    expect(handled).toBe(0);
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect(String((errors[0] as Error).message)).toMatch(/`skip`/);
    expect(sem.counters.acquired).toBe(0);
  });
});

describe.each(koaVersions)('%s: a body stream that fails after the headers', (_label, KoaApp) => {
  // Koa 2 leaves such a response open until the client leaves: the permit
  // waited for that, so a client that stayed kept a slot for nothing.
  it('releases the permit when the body stream fails, as dropped work', async () => {
    const { app } = newApp(KoaApp);
    const outcomes: string[] = [];
    const inner = new (await import('@doorman/semaphore')).Semaphore({ limit: 1 });
    const limiter = {
      name: inner.name,
      get limit() {
        return inner.limit;
      },
      get inUse() {
        return inner.inUse;
      },
      get waiting() {
        return inner.waiting;
      },
      get counters() {
        return inner.counters;
      },
      onWait: inner.onWait.bind(inner),
      async acquire() {
        const permit = await inner.acquire();
        return {
          weight: permit.weight,
          get released() {
            return permit.released;
          },
          release(outcome?: 'success' | 'dropped' | 'ignored') {
            outcomes.push(outcome ?? 'success');
            permit.release(outcome);
          },
          [Symbol.dispose]() {
            permit.release();
          },
        };
      },
    };
    const body = new PassThrough();
    app.use(concurrencyLimit({ limiter }));
    app.use(async (ctx) => {
      ctx.body = body;
    });
    const { port } = await serve(app);
    body.write('first chunk');
    const call = get(port, '/');
    await call.head;
    body.destroy(new Error('the upstream stream broke'));
    await until(() => inner.inUse === 0, 'the permit is back while the client is still there');
    expect(outcomes).toEqual(['dropped']);
    call.abort();
    await call.outcome;
  });
});
