import { concurrencyLimit } from '@doorman/koa';
import {
  type AcquireOptions,
  LimiterUnavailableError,
  type Permit,
  Semaphore,
} from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { get, koaVersions, newApp, Stage, serve } from './helpers.js';

describe.each(koaVersions)('%s: admission and rejection', (_label, KoaApp) => {
  /** limit-N app whose handler waits in `stage`, then answers 'done'. */
  async function heldApp(options: Parameters<typeof concurrencyLimit>[0]) {
    const { app, errors } = newApp(KoaApp);
    const stage = new Stage();
    const mw = concurrencyLimit(options);
    app.use(mw);
    app.use(async (ctx) => {
      await stage.enter();
      ctx.body = 'done';
    });
    const { port } = await serve(app);
    return { port, stage, mw, sem: mw.limiter as Semaphore, errors };
  }

  it('skip lets matching requests through without a permit, even when full', async () => {
    const { app } = newApp(KoaApp);
    const stage = new Stage();
    const mw = concurrencyLimit({
      limit: 1,
      maxQueue: 0,
      skip: (ctx) => ctx.path === '/health',
    });
    app.use(mw);
    app.use(async (ctx) => {
      if (ctx.path === '/work') await stage.enter();
      ctx.body = ctx.path;
    });
    const { port } = await serve(app);
    const sem = mw.limiter as Semaphore;

    const work = get(port, '/work');
    await stage.reached(1);
    const health = await get(port, '/health').reply;
    expect(health.status).toBe(200);
    expect(health.body).toBe('/health');
    expect((await get(port, '/other').reply).status).toBe(503);
    expect(sem.counters.acquired).toBe(1);
    expect(sem.inUse).toBe(1);

    stage.openAll();
    expect((await work.reply).status).toBe(200);
    await sem.idle();
  });

  it('sends retryAfter seconds in Retry-After, rounded up', async () => {
    const { port, stage, sem } = await heldApp({ limit: 1, maxQueue: 0, retryAfter: 2.5 });
    const first = get(port);
    await stage.reached(1);
    const shed = await get(port).reply;
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('3');
    stage.openAll();
    await first.reply;
    await sem.idle();
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('no idea');
      },
    ],
    ['returns NaN', () => Number.NaN],
    ['returns a negative number', () => -5],
    ['returns a string', () => '10' as unknown as number],
  ])('falls back to Retry-After 1 when the retryAfter function %s', async (_name, retryAfter) => {
    const { port, stage, sem, errors } = await heldApp({ limit: 1, maxQueue: 0, retryAfter });
    const first = get(port);
    await stage.reached(1);
    const shed = await get(port).reply;
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.body).toContain('QUEUE_FULL');
    expect(errors).toEqual([]);
    stage.openAll();
    await first.reply;
    await sem.idle();
  });

  it('lets onRejected write a custom response with the error it is given', async () => {
    const given: unknown[] = [];
    const { port, stage, sem } = await heldApp({
      limit: 1,
      maxQueue: 0,
      onRejected: (error, ctx) => {
        given.push({ status: error.status, expose: error.expose, headers: error.headers });
        ctx.status = error.status;
        ctx.set('Retry-After', error.headers['Retry-After']);
        ctx.body = { error: error.code, limiter: error.limiter };
      },
    });
    const first = get(port);
    await stage.reached(1);
    const shed = await get(port).reply;
    expect(shed.status).toBe(503);
    expect(shed.headers['content-type']).toMatch(/^application\/json/);
    expect(shed.headers['retry-after']).toBe('1');
    expect(JSON.parse(shed.body)).toEqual({ error: 'QUEUE_FULL', limiter: 'http' });
    expect(given).toEqual([{ status: 503, expose: true, headers: { 'Retry-After': '1' } }]);
    expect(stage.entered).toBe(1);
    stage.openAll();
    await first.reply;
    await sem.idle();
  });

  it('lets an async onRejected finish before the response is sent', async () => {
    const { port, stage, sem } = await heldApp({
      limit: 1,
      maxQueue: 0,
      onRejected: async (error, ctx) => {
        await Promise.resolve();
        ctx.status = 429;
        ctx.body = `later: ${error.code}`;
      },
    });
    const first = get(port);
    await stage.reached(1);
    const shed = await get(port).reply;
    expect(shed.status).toBe(429);
    expect(shed.body).toBe('later: QUEUE_FULL');
    stage.openAll();
    await first.reply;
    await sem.idle();
  });

  it('hands a rejection thrown from onRejected to an upstream try/catch, with status, expose and headers', async () => {
    const { app, errors } = newApp(KoaApp);
    const stage = new Stage();
    const caught: Array<Record<string, unknown>> = [];
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        const e = error as {
          status: number;
          expose: boolean;
          code: string;
          headers: Record<string, string>;
        };
        caught.push({ status: e.status, expose: e.expose, code: e.code, headers: e.headers });
        ctx.status = e.status;
        ctx.set(e.headers);
        ctx.body = { code: e.code };
      }
    });
    const mw = concurrencyLimit({
      limit: 1,
      maxQueue: 0,
      retryAfter: 9,
      onRejected: (error) => {
        throw error;
      },
    });
    app.use(mw);
    app.use(async (ctx) => {
      await stage.enter();
      ctx.body = 'done';
    });
    const { port } = await serve(app);

    const first = get(port);
    await stage.reached(1);
    const shed = await get(port).reply;
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('9');
    expect(JSON.parse(shed.body)).toEqual({ code: 'QUEUE_FULL' });
    expect(caught).toEqual([
      { status: 503, expose: true, code: 'QUEUE_FULL', headers: { 'Retry-After': '9' } },
    ]);
    expect(errors).toEqual([]);
    expect(stage.entered).toBe(1);
    stage.openAll();
    await first.reply;
    await (mw.limiter as Semaphore).idle();
  });

  it("renders a rethrown rejection through Koa's own error handling when nothing upstream catches it", async () => {
    const { port, stage, sem, errors } = await heldApp({
      limit: 1,
      maxQueue: 0,
      statusCode: 429,
      retryAfter: 4,
      onRejected: (error) => {
        throw error;
      },
    });
    const first = get(port);
    await stage.reached(1);
    const shed = await get(port).reply;
    expect(shed.status).toBe(429);
    expect(shed.headers['retry-after']).toBe('4');
    // `expose` makes Koa send the message rather than a bare status text.
    expect(shed.body).toMatch(/queue full/i);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'QUEUE_FULL', status: 429, expose: true });
    expect(stage.entered).toBe(1);
    stage.openAll();
    await first.reply;
    await sem.idle();
  });

  it('answers UNAVAILABLE when a shared limiter cannot be reached, and 500 for any other limiter failure', async () => {
    const { app, errors } = newApp(KoaApp);
    const sem = new Semaphore({ limit: 1 });
    let failure: unknown;
    // A Limiter of its own shape, without the optional tryAcquire fast path.
    const remote = {
      name: 'remote',
      limit: 1,
      get inUse() {
        return sem.inUse;
      },
      get waiting() {
        return sem.waiting;
      },
      get counters() {
        return sem.counters;
      },
      onWait: (listener: (ms: number) => void) => sem.onWait(listener),
      acquire: (options?: AcquireOptions): Promise<Permit> =>
        failure === undefined ? sem.acquire(options) : Promise.reject(failure),
    };
    let handled = 0;
    app.use(concurrencyLimit({ limiter: remote }));
    app.use((ctx) => {
      handled++;
      ctx.body = 'ok';
    });
    const { port } = await serve(app);

    expect((await get(port).reply).body).toBe('ok');
    failure = new LimiterUnavailableError('remote', new Error('connection refused'));
    const down = await get(port).reply;
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('1');
    expect(down.body).toContain('UNAVAILABLE');
    failure = new Error('limiter bug');
    expect((await get(port).reply).status).toBe(500);
    expect(errors).toEqual([expect.objectContaining({ message: 'limiter bug' })]);
    expect(handled).toBe(1);
    await sem.idle();
  });
});
