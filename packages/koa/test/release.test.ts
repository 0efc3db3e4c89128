import { PassThrough } from 'node:stream';
import { concurrencyLimit } from '@doorman/koa';
import { Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import {
  CloseProbe,
  CountingLimiter,
  get,
  koaVersions,
  newApp,
  Stage,
  serve,
  until,
} from './helpers.js';

describe.each(koaVersions)('%s: releasing permits', (_label, KoaApp) => {
  it('releases when the handler throws synchronously, and a queued request then gets in', async () => {
    const { app, errors } = newApp(KoaApp);
    const stage = new Stage();
    const mw = concurrencyLimit({ limit: 1 });
    const sem = mw.limiter as Semaphore;
    app.use(mw);
    app.use(async (ctx, next) => {
      if (ctx.path === '/hold') await stage.enter();
      return next();
    });
    app.use((ctx) => {
      if (ctx.path === '/throw') throw new Error('boom');
      ctx.body = 'ok';
    });
    const { port } = await serve(app);

    const hold = get(port, '/hold');
    await stage.reached(1);
    const thrower = get(port, '/throw');
    await until(() => sem.waiting === 1, 'the throwing request is queued');
    const after = get(port, '/ok');
    await until(() => sem.waiting === 2, 'a second request is queued behind it');

    stage.open(0);
    expect((await hold.reply).status).toBe(200);
    expect((await thrower.reply).status).toBe(500);
    expect((await after.reply).body).toBe('ok');
    await sem.idle();
    expect(sem.counters).toMatchObject({ acquired: 3, released: 3 });
    expect(errors).toEqual([expect.objectContaining({ message: 'boom' })]);
  });

  it.each([
    ['an Error', new Error('nope')],
    ['a value that is not an Error', 'nope'],
  ])(
    'releases when the handler rejects with %s, and a queued request then gets in',
    async (_name, reason) => {
      const { app, errors } = newApp(KoaApp);
      const stage = new Stage();
      const mw = concurrencyLimit({ limit: 1 });
      const sem = mw.limiter as Semaphore;
      app.use(mw);
      app.use(async (ctx) => {
        if (ctx.path === '/reject') await stage.enter();
        ctx.body = 'ok';
      });
      const { port } = await serve(app);

      const rejecting = get(port, '/reject');
      await stage.reached(1);
      const queued = get(port, '/ok');
      await until(() => sem.waiting === 1, 'a request is queued');
      expect(sem.inUse).toBe(1);

      stage.fail(0, reason);
      expect((await rejecting.reply).status).toBe(500);
      expect((await queued.reply).body).toBe('ok');
      await sem.idle();
      expect(sem.counters).toMatchObject({ acquired: 2, released: 2 });
      expect(errors).toHaveLength(1);
    },
  );

  it('releases when a handler uses ctx.throw with an HTTP status', async () => {
    const { app } = newApp(KoaApp);
    const stage = new Stage();
    const mw = concurrencyLimit({ limit: 1 });
    const sem = mw.limiter as Semaphore;
    app.use(mw);
    app.use(async (ctx) => {
      if (ctx.path === '/teapot') {
        await stage.enter();
        ctx.throw(418, 'short and stout');
      }
      ctx.body = 'ok';
    });
    const { port } = await serve(app);

    const teapot = get(port, '/teapot');
    await stage.reached(1);
    const queued = get(port, '/ok');
    await until(() => sem.waiting === 1, 'a request is queued');
    stage.open(0);
    const reply = await teapot.reply;
    expect([reply.status, reply.body]).toEqual([418, 'short and stout']);
    expect((await queued.reply).body).toBe('ok');
    await sem.idle();
  });

  it('releases the permit of a streamed body when the client leaves mid-stream', async () => {
    const { app } = newApp(KoaApp);
    const probe = new CloseProbe();
    const streams: PassThrough[] = [];
    const mw = concurrencyLimit({ limit: 1 });
    const sem = mw.limiter as Semaphore;
    app.use(probe.middleware);
    app.use(mw);
    app.use((ctx) => {
      const body = new PassThrough();
      streams.push(body);
      ctx.body = body;
    });
    const { port } = await serve(app);

    const streamed = get(port, '/', { 'x-id': 'stream' });
    await until(() => probe.settled.has('stream'), 'downstream has settled');
    (streams[0] as PassThrough).write('partial');
    await streamed.head;
    expect(sem.inUse).toBe(1);
    streamed.abort();
    await sem.idle();
    expect(sem.counters).toMatchObject({ acquired: 1, released: 1 });
    expect(await streamed.outcome).toBe('aborted');
  });

  it('never releases a permit twice, on any path', async () => {
    const { app } = newApp(KoaApp);
    const stage = new Stage();
    const probe = new CloseProbe();
    const inner = new Semaphore({ limit: 2, maxQueue: 1 });
    const limiter = new CountingLimiter(inner);
    const streams: PassThrough[] = [];
    const samples: Array<[number, number]> = [];
    const sample = () => samples.push([inner.available, inner.inUse]);
    app.use(probe.middleware);
    app.use(concurrencyLimit({ limiter }));
    app.use(async (ctx) => {
      sample();
      if (ctx.path === '/hold') await stage.enter();
      sample();
      if (ctx.path === '/throw') throw new Error('boom');
      if (ctx.path === '/stream') {
        const body = new PassThrough();
        streams.push(body);
        ctx.body = body;
        return;
      }
      ctx.body = 'ok';
    });
    const { port } = await serve(app);
    const outcome = async (path: string) => {
      const r = await get(port, path).reply;
      return r.status;
    };

    // Plain, thrown, streamed.
    expect(await outcome('/ok')).toBe(200);
    expect(await outcome('/throw')).toBe(500);
    const streamed = get(port, '/stream', { 'x-id': 's' });
    await until(() => probe.settled.has('s'), 'the stream handler settled');
    (streams[0] as PassThrough).end('bytes');
    expect((await streamed.reply).body).toBe('bytes');

    // A client leaving mid-handler; one leaving while queued; one shed.
    const leaver = get(port, '/hold', { 'x-id': 'leaver' });
    const holder = get(port, '/hold', { 'x-id': 'holder' });
    await stage.reached(2);
    const queuedLeaver = get(port, '/ok', { 'x-id': 'queued' });
    await until(() => inner.waiting === 1, 'a request is queued');
    const shed = await get(port, '/ok').reply;
    expect(shed.body).toContain('QUEUE_FULL');
    queuedLeaver.abort();
    await until(() => inner.waiting === 0, 'the queued request left');
    leaver.abort();
    await until(() => probe.closed.has('leaver'), 'the server saw the client leave');
    sample();
    stage.openAll();
    expect((await holder.reply).status).toBe(200);
    await inner.idle();
    sample();

    expect(limiter.releases.length).toBe(5);
    expect(limiter.releases.every((n) => n === 1)).toBe(true);
    expect(inner.counters.acquired).toBe(inner.counters.released);
    expect(inner.available).toBe(inner.limit);
    for (const [available, inUse] of samples) {
      expect(available).toBeLessThanOrEqual(inner.limit);
      expect(inUse).toBeLessThanOrEqual(inner.limit);
      expect(inUse).toBeGreaterThanOrEqual(0);
    }
  });
});
