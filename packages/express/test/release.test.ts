import { Readable } from 'node:stream';
import { concurrencyLimit, type Limiter, Semaphore } from '@doorman/express';
import type { Permit } from '@doorman/semaphore';
import type { RequestHandler } from 'express';
import { describe, expect, it } from 'vitest';
import {
  deferred,
  errorRecorder,
  open,
  queued,
  Room,
  until,
  useServers,
  versions,
} from './helpers.js';

/** The ways a handler can fail after the room let it in. */
function failures(major: 4 | 5): Array<[string, RequestHandler]> {
  const cases: Array<[string, RequestHandler]> = [
    [
      'throws synchronously',
      () => {
        throw new Error('sync boom');
      },
    ],
    ['calls next(err)', (_req, _res, next) => next(new Error('next boom'))],
  ];
  // Express 4 does not look at the promise a handler returns, so a rejection
  // never reaches its error path (the request would hang): Express 5 only.
  if (major === 5) {
    cases.push([
      'returns a rejected promise',
      async () => {
        await Promise.resolve();
        throw new Error('async boom');
      },
    ]);
  }
  return cases;
}

describe.each(versions)('%s: the permit is released', (_label, express, major) => {
  const listen = useServers();

  it.each(failures(major))(
    'when the handler %s, and a queued request then gets in',
    async (_case, failing) => {
      const room = new Room();
      const recorder = errorRecorder();
      const mw = concurrencyLimit({ limit: 1 });
      const app = express();
      app.get('/fail', mw, room.hold, failing);
      app.get('/ok', mw, room.handler);
      app.use(recorder.handler);
      const port = await listen(app);

      const failed = open(port, '/fail', { headers: { 'x-id': 'fail' } });
      await room.whenStarted(1);
      const next = open(port, '/ok', { headers: { 'x-id': 'ok' } });
      await queued(mw.limiter, 1);

      room.releaseNext();
      const failure = await failed.reply;
      expect(failure.status).toBe(500);
      expect(failure.body).toMatch(/^error: (sync|next|async) boom$/);
      expect(recorder.errors).toHaveLength(1);
      await room.whenStarted(2);
      expect(mw.limiter.inUse).toBe(1);
      expect(mw.limiter.waiting).toBe(0);

      room.releaseAll();
      expect((await next.reply).status).toBe(200);
      expect(mw.limiter.inUse).toBe(0);
      expect(mw.limiter.counters.acquired).toBe(2);
      expect(mw.limiter.counters.released).toBe(2);
    },
  );

  it('when a client leaves mid-handler, and a queued request gets in', async () => {
    const room = new Room();
    const mw = concurrencyLimit({ limit: 1 });
    const app = express();
    app.get('/sing', mw, room.handler);
    const port = await listen(app);

    const leaver = open(port, '/sing', { headers: { 'x-id': 'leaver' } });
    await room.whenStarted(1);
    const waiting = open(port, '/sing', { headers: { 'x-id': 'waiting' } });
    await queued(mw.limiter, 1);

    // Express cannot know when the handler is done: the closed connection ends the work.
    leaver.req.destroy();
    await room.whenStarted(2);
    expect(room.started).toEqual(['leaver', 'waiting']);
    expect(mw.limiter.inUse).toBe(1);
    expect(mw.limiter.counters.rejected.aborted).toBe(0);

    room.releaseAll();
    expect((await waiting.reply).status).toBe(200);
    expect(mw.limiter.inUse).toBe(0);
    expect(mw.limiter.counters).toMatchObject({ acquired: 2, released: 2 });
  });

  it('for each of two limits a request passes (app-wide and per route)', async () => {
    const room = new Room();
    const appWide = concurrencyLimit({ limit: 2 });
    const perRoute = concurrencyLimit({ limit: 1 });
    const app = express();
    app.use(appWide);
    app.get('/sing', perRoute, room.handler);
    const port = await listen(app);

    const first = open(port, '/sing', { headers: { 'x-id': 'first' } });
    await room.whenStarted(1);
    const second = open(port, '/sing', { headers: { 'x-id': 'second' } });
    await queued(perRoute.limiter, 1);
    expect([appWide.limiter.inUse, perRoute.limiter.inUse]).toEqual([2, 1]);

    room.releaseNext();
    await room.whenStarted(2);
    expect([appWide.limiter.inUse, perRoute.limiter.inUse]).toEqual([1, 1]);
    room.releaseAll();
    expect((await first.reply).status).toBe(200);
    expect((await second.reply).status).toBe(200);
    expect([appWide.limiter.inUse, perRoute.limiter.inUse]).toEqual([0, 0]);
    expect(appWide.limiter.counters).toMatchObject({ acquired: 2, released: 2 });
    expect(perRoute.limiter.counters).toMatchObject({ acquired: 2, released: 2 });
  });

  it('at once when it is granted after the client left the queue', async () => {
    // A limiter that, like a remote one, grants a permit and delivers it a
    // moment later: the client leaves in between.
    const sem = new Semaphore({ limit: 1 });
    const delivery = deferred();
    const slow: Limiter = {
      name: 'slow',
      get limit() {
        return sem.limit;
      },
      get inUse() {
        return sem.inUse;
      },
      get waiting() {
        return sem.waiting;
      },
      get counters() {
        return sem.counters;
      },
      onWait: (listener) => sem.onWait(listener),
      acquire: async (options) => {
        const permit = await sem.acquire(options);
        await delivery.promise;
        return permit;
      },
      tryAcquire: (weight) => sem.tryAcquire(weight),
    };
    const closed = deferred();
    const room = new Room();
    const mw = concurrencyLimit({ limiter: slow });
    const app = express();
    app.get(
      '/sing',
      (req, res, next) => {
        if (req.get('x-id') === 'leaver') res.on('close', () => closed.resolve());
        next();
      },
      mw,
      room.handler,
    );
    const port = await listen(app);

    const holder = open(port, '/sing', { headers: { 'x-id': 'holder' } });
    await room.whenStarted(1);
    const leaver = open(port, '/sing', { headers: { 'x-id': 'leaver' } });
    await queued(sem, 1);
    room.releaseNext();
    expect((await holder.reply).status).toBe(200);
    // Granted in the semaphore, not yet delivered to the middleware.
    expect([sem.inUse, sem.waiting]).toEqual([1, 0]);
    leaver.req.destroy();
    await closed.promise;
    delivery.resolve();
    await until(() => expect(sem.inUse).toBe(0));
    expect(room.started).toEqual(['holder']);
    expect(sem.counters).toMatchObject({ acquired: 2, released: 2 });
  });

  it('exactly once per request, whatever the path, and never above the limit', async () => {
    // A limiter shaped as `Limiter` around a real Semaphore, counting every
    // release() the middleware makes on each permit it hands out.
    const sem = new Semaphore({ limit: 2 });
    const releaseCalls: number[] = [];
    let overLimit = 0;
    const watch = (permit: Permit): Permit => {
      const index = releaseCalls.push(0) - 1;
      return {
        weight: permit.weight,
        get released() {
          return permit.released;
        },
        release() {
          releaseCalls[index] = (releaseCalls[index] ?? 0) + 1;
          permit.release();
          if (sem.available > sem.limit || sem.inUse < 0) overLimit++;
        },
        [Symbol.dispose]() {
          this.release();
        },
      };
    };
    const counted: Limiter = {
      name: 'counted',
      get limit() {
        return sem.limit;
      },
      get inUse() {
        return sem.inUse;
      },
      get waiting() {
        return sem.waiting;
      },
      get counters() {
        return sem.counters;
      },
      onWait: (listener) => sem.onWait(listener),
      acquire: async (options) => watch(await sem.acquire(options)),
      tryAcquire: (weight) => {
        const permit = sem.tryAcquire(weight);
        return permit === undefined ? undefined : watch(permit);
      },
    };
    const room = new Room();
    const recorder = errorRecorder();
    const mw = concurrencyLimit({ limiter: counted });
    const body = new Readable({ read() {} });
    const app = express();
    app.get('/ok', mw, room.handler);
    app.get('/throw', mw, room.hold, () => {
      throw new Error('boom');
    });
    app.get('/next', mw, room.hold, (_req, _res, next) => next(new Error('boom')));
    app.get('/stream', mw, (_req, res) => {
      body.pipe(res);
    });
    app.use(recorder.handler);
    const port = await listen(app);

    const ok = open(port, '/ok', { headers: { 'x-id': 'ok' } }); // fast path
    const thrown = open(port, '/throw', { headers: { 'x-id': 'throw' } }); // fast path
    await room.whenStarted(2);
    const nexted = open(port, '/next', { headers: { 'x-id': 'next' } }); // queued
    const leaver = open(port, '/ok', { headers: { 'x-id': 'leaver' } }); // queued, then admitted
    await queued(sem, 2);
    room.releaseNext(); // ok
    room.releaseNext(); // throw
    await room.whenStarted(4);
    const streamed = open(port, '/stream'); // queued, then admitted
    await queued(sem, 1);
    leaver.req.destroy(); // mid-handler, admitted from the queue
    await until(() => expect(sem.waiting).toBe(0));
    room.releaseAll();
    body.push('a');
    body.push(null);

    const replies = await Promise.all([ok.reply, thrown.reply, nexted.reply, streamed.reply]);
    expect(replies.map((r) => r.status)).toEqual([200, 500, 500, 200]);
    await until(() => expect(sem.inUse).toBe(0));
    expect(releaseCalls).toEqual([1, 1, 1, 1, 1]);
    expect(overLimit).toBe(0);
    expect(sem.available).toBe(sem.limit);
    expect(sem.counters.acquired).toBe(5);
    expect(sem.counters.released).toBe(5);
  });
});
