import { concurrencyLimit } from '@doorman/express';
import { LimiterUnavailableError, Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { errorRecorder, get, open, queued, Room, useServers, versions } from './helpers.js';

describe.each(versions)('%s: admission', (_label, express) => {
  const listen = useServers();

  it('runs exactly `limit` handlers at once; the rest queue, then succeed', async () => {
    const room = new Room();
    const mw = concurrencyLimit({ limit: 4 });
    const app = express();
    app.get('/sing', mw, room.handler);
    const port = await listen(app);

    const guests = ['g1', 'g2', 'g3', 'g4', 'g5', 'g6'].map((id) =>
      open(port, '/sing', { headers: { 'x-id': id } }),
    );
    await room.whenStarted(4);
    await queued(mw.limiter, 2);
    // The 5th and 6th wait at the door: their handlers have not started.
    expect(room.started).toHaveLength(4);
    expect(room.running).toBe(4);
    expect(mw.limiter.inUse).toBe(4);

    room.releaseNext();
    await room.whenStarted(5);
    expect(room.running).toBe(4);
    expect(mw.limiter.waiting).toBe(1);

    room.releaseAll();
    await room.whenStarted(6);
    room.releaseAll();
    const replies = await Promise.all(guests.map((g) => g.reply));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(replies.map((r) => r.body)).toEqual(
      ['g1', 'g2', 'g3', 'g4', 'g5', 'g6'].map((id) => `sang ${id}`),
    );
    expect(room.peak).toBe(4);
    expect(room.started.slice(4).sort()).toEqual(['g5', 'g6']);
    expect(mw.limiter.inUse).toBe(0);
    expect(mw.limiter.waiting).toBe(0);
    expect(mw.limiter.counters.acquired).toBe(6);
    expect(mw.limiter.counters.released).toBe(6);
  });

  it('sheds at once with maxQueue 0: 503, Retry-After, QUEUE_FULL, handler untouched', async () => {
    const room = new Room();
    const mw = concurrencyLimit({ limit: 1, maxQueue: 0 });
    const app = express();
    app.get('/sing', mw, room.handler);
    const port = await listen(app);

    const first = open(port, '/sing', { headers: { 'x-id': 'first' } });
    await room.whenStarted(1);
    const shed = await get(port, '/sing', { headers: { 'x-id': 'second' } });

    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.headers['content-type']).toMatch(/^text\/plain/);
    expect(shed.body).toContain('QUEUE_FULL');
    expect(shed.body).toBe('Service Unavailable (QUEUE_FULL)\n');
    expect(room.started).toEqual(['first']);
    expect(mw.limiter.counters.rejected.queue_full).toBe(1);
    expect(mw.limiter.waiting).toBe(0);

    room.releaseAll();
    expect((await first.reply).status).toBe(200);
    expect(mw.limiter.inUse).toBe(0);
  });

  it('rejects a request that waited longer than queueTimeoutMs with 503 QUEUE_TIMEOUT', async () => {
    const room = new Room();
    const mw = concurrencyLimit({ limit: 1, queueTimeoutMs: 30 });
    const app = express();
    app.get('/sing', mw, room.handler);
    const port = await listen(app);

    const first = open(port, '/sing', { headers: { 'x-id': 'first' } });
    await room.whenStarted(1);
    const late = await get(port, '/sing', { headers: { 'x-id': 'late' } });

    expect(late.status).toBe(503);
    expect(late.headers['retry-after']).toBe('1');
    expect(late.body).toBe('Service Unavailable (QUEUE_TIMEOUT)\n');
    expect(room.started).toEqual(['first']);
    expect(mw.limiter.counters.rejected.timeout).toBe(1);
    expect(mw.limiter.waiting).toBe(0);

    room.releaseAll();
    expect((await first.reply).status).toBe(200);
    expect(room.started).toEqual(['first']);
    expect(mw.limiter.inUse).toBe(0);
  });

  it('rejects with 503 CLOSED once the limiter is closed, queued requests included', async () => {
    const room = new Room();
    const mw = concurrencyLimit({ limit: 1 });
    const app = express();
    app.get('/sing', mw, room.handler);
    const port = await listen(app);

    const first = open(port, '/sing', { headers: { 'x-id': 'first' } });
    await room.whenStarted(1);
    const waiting = open(port, '/sing', { headers: { 'x-id': 'waiting' } });
    await queued(mw.limiter, 1);
    await (mw.limiter as Semaphore).close();

    const closedWhileQueued = await waiting.reply;
    expect(closedWhileQueued.status).toBe(503);
    expect(closedWhileQueued.headers['retry-after']).toBe('1');
    expect(closedWhileQueued.body).toBe('Service Unavailable (CLOSED)\n');

    room.releaseAll();
    expect((await first.reply).status).toBe(200);
    const later = await get(port, '/sing', { headers: { 'x-id': 'later' } });
    expect(later.status).toBe(503);
    expect(later.body).toContain('CLOSED');
    expect(room.started).toEqual(['first']);
    expect(mw.limiter.counters.rejected.closed).toBe(2);
    expect(mw.limiter.inUse).toBe(0);
  });

  it('rejects with 503 UNAVAILABLE when a shared limiter cannot be reached', async () => {
    const local = new Semaphore({ limit: 1, name: 'shared' });
    // A limiter whose store is down, as a RedisSemaphore with failOpen off reports it.
    const down = {
      name: 'shared',
      get limit() {
        return local.limit;
      },
      get inUse() {
        return local.inUse;
      },
      get waiting() {
        return local.waiting;
      },
      get counters() {
        return local.counters;
      },
      onWait: local.onWait.bind(local),
      acquire: () =>
        Promise.reject(new LimiterUnavailableError('shared', new Error('ECONNREFUSED'))),
    };
    const recorder = errorRecorder();
    const room = new Room();
    const app = express();
    app.get('/sing', concurrencyLimit({ limiter: down, retryAfter: 5 }), room.handler);
    app.use(recorder.handler);
    const port = await listen(app);

    const reply = await get(port, '/sing');
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('5');
    expect(reply.body).toBe('Service Unavailable (UNAVAILABLE)\n');
    expect(room.started).toEqual([]);
    expect(recorder.errors).toEqual([]);
  });
});
