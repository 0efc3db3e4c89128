import { Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { concurrencyLimit } from '../src/index.js';
import { get, open, Room, settled, until, useApps, versions } from './helpers.js';

describe.each(versions)('%s: admission', (_name, fastify) => {
  const listen = useApps();

  it('admits exactly limit requests at once and serves the line in arrival order', async () => {
    const room = new Room();
    const limit = concurrencyLimit({ limit: 2 });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get('/sing', room.handler);
    const port = await listen(app);

    const replies = [];
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      replies.push(get(port, '/sing', { headers: { 'x-id': id } }));
      if (id === 'b') await room.whenStarted(2);
    }
    await until(() => expect(limit.limiter.waiting).toBe(3));
    expect(room.running).toBe(2);
    for (let n = 3; n <= 5; n++) {
      room.releaseNext();
      await room.whenStarted(n);
      expect(room.running).toBe(2);
    }
    room.releaseAll();
    const bodies = (await Promise.all(replies)).map((r) => `${r.status} ${r.body}`);
    expect(bodies).toEqual(['a', 'b', 'c', 'd', 'e'].map((id) => `200 sang ${id}`));
    expect(room.peak).toBe(2);
    expect(room.started).toEqual(['a', 'b', 'c', 'd', 'e']);
    await settled(limit.limiter);
  });

  it('refuses with 503, Retry-After and the code when the line is full, without running the handler', async () => {
    const room = new Room();
    const limit = concurrencyLimit({ limit: 1, maxQueue: 1 });
    const app = fastify();
    app.get('/sing', { onRequest: limit }, room.handler);
    const port = await listen(app);

    const first = get(port, '/sing', { headers: { 'x-id': 'a' } });
    await room.whenStarted(1);
    const second = get(port, '/sing', { headers: { 'x-id': 'b' } });
    await until(() => expect(limit.limiter.waiting).toBe(1));
    const refused = await get(port, '/sing', { headers: { 'x-id': 'c' } });

    expect(refused.status).toBe(503);
    expect(refused.body).toBe('Service Unavailable (QUEUE_FULL)\n');
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(refused.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(limit.limiter.counters.rejected.queue_full).toBe(1);
    room.releaseAll();
    await room.whenStarted(2);
    room.releaseAll();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(room.started).toEqual(['a', 'b']);
    await settled(limit.limiter);
  });

  it('keeps the headers earlier hooks set on a refusal', async () => {
    const app = fastify();
    app.addHook('onRequest', (_request, reply, done) => {
      reply.header('access-control-allow-origin', '*');
      done();
    });
    app.addHook(
      'onRequest',
      concurrencyLimit({ limit: 1, maxQueue: 0, statusCode: 429, retryAfter: 7 }),
    );
    const room = new Room();
    app.get('/sing', room.handler);
    const port = await listen(app);
    const first = get(port, '/sing');
    await room.whenStarted(1);
    const refused = await get(port, '/sing');
    expect(refused.status).toBe(429);
    expect(refused.body).toBe('Too Many Requests (QUEUE_FULL)\n');
    expect(refused.headers['retry-after']).toBe('7');
    expect(refused.headers['access-control-allow-origin']).toBe('*');
    room.releaseAll();
    expect((await first).status).toBe(200);
  });

  it('refuses a request that waited queueTimeoutMs with QUEUE_TIMEOUT', async () => {
    const room = new Room();
    const limit = concurrencyLimit({ limit: 1, queueTimeoutMs: 20, retryAfter: () => 3 });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get('/sing', room.handler);
    const port = await listen(app);
    const first = get(port, '/sing', { headers: { 'x-id': 'a' } });
    await room.whenStarted(1);
    const late = await get(port, '/sing', { headers: { 'x-id': 'b' } });
    expect(late.status).toBe(503);
    expect(late.body).toBe('Service Unavailable (QUEUE_TIMEOUT)\n');
    expect(late.headers['retry-after']).toBe('3');
    expect(limit.limiter.counters.rejected.timeout).toBe(1);
    room.releaseAll();
    await first;
    expect(room.started).toEqual(['a']);
    await settled(limit.limiter);
  });

  it('refuses the waiting and later requests with CLOSED once the limiter is closed', async () => {
    const room = new Room();
    const limit = concurrencyLimit({ limit: 1 });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get('/sing', room.handler);
    const port = await listen(app);
    const first = get(port, '/sing');
    await room.whenStarted(1);
    const waiting = get(port, '/sing');
    await until(() => expect(limit.limiter.waiting).toBe(1));
    const closed = limit.limiter.close();
    expect((await waiting).body).toBe('Service Unavailable (CLOSED)\n');
    expect((await get(port, '/sing')).status).toBe(503);
    room.releaseAll();
    expect((await first).status).toBe(200);
    await closed;
    expect(room.started).toHaveLength(1);
  });

  it('limits one route without touching the others', async () => {
    const room = new Room();
    const report = concurrencyLimit({ limit: 1, maxQueue: 0, name: 'report' });
    const app = fastify();
    app.get('/report', { onRequest: report }, room.handler);
    app.get('/free', async () => 'free');
    const port = await listen(app);
    const first = get(port, '/report');
    await room.whenStarted(1);
    expect((await get(port, '/report')).status).toBe(503);
    expect((await get(port, '/free')).body).toBe('free');
    room.releaseAll();
    expect((await first).status).toBe(200);
    await settled(report.limiter);
  });

  it('admits and releases once a request that meets the same hook app-wide and on its route', async () => {
    const limit = concurrencyLimit({ limit: 1, maxQueue: 0 });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get('/twice', { onRequest: limit }, async () => 'ok');
    const port = await listen(app);
    for (let i = 0; i < 3; i++) {
      expect((await get(port, '/twice')).status).toBe(200);
      await settled(limit.limiter);
    }
    expect(limit.limiter.counters.acquired).toBe(3);
  });

  it('gives each key its own limit', async () => {
    const room = new Room();
    const limit = concurrencyLimit({
      limit: 1,
      maxQueue: 0,
      key: (request) => String(request.headers['x-tenant']),
    });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get('/sing', room.handler);
    const port = await listen(app);
    const a = get(port, '/sing', { headers: { 'x-tenant': 'a', 'x-id': 'a1' } });
    await room.whenStarted(1);
    expect((await get(port, '/sing', { headers: { 'x-tenant': 'a' } })).status).toBe(503);
    const b = get(port, '/sing', { headers: { 'x-tenant': 'b', 'x-id': 'b1' } });
    await room.whenStarted(2);
    expect(limit.limiter.activeKeys).toBe(2);
    room.releaseAll();
    expect([(await a).status, (await b).status]).toEqual([200, 200]);
    await until(() => expect(limit.limiter.activeKeys).toBe(0));
  });

  it('lets skipped requests through without a permit while the limit is full', async () => {
    const room = new Room();
    const limit = concurrencyLimit({
      limit: 1,
      maxQueue: 0,
      skip: (request) => request.url === '/health',
    });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get('/sing', room.handler);
    app.get('/health', async () => 'ok');
    const port = await listen(app);
    const first = get(port, '/sing');
    await room.whenStarted(1);
    expect((await get(port, '/health')).body).toBe('ok');
    expect(limit.limiter.counters.acquired).toBe(1);
    room.releaseAll();
    await first;
    await settled(limit.limiter);
  });

  it('takes weight units per request: a heavy request waits for room', async () => {
    const room = new Room();
    const db = new Semaphore({ limit: 3, name: 'db' });
    const light = concurrencyLimit({ limiter: db });
    const heavy = concurrencyLimit({
      limiter: db,
      weight: (request) => (request.url === '/big' ? 3 : 1),
    });
    expect(light.limiter).toBe(db);
    const app = fastify();
    app.get('/small', { onRequest: light }, room.handler);
    app.get('/big', { onRequest: heavy }, room.handler);
    const port = await listen(app);
    const small = get(port, '/small', { headers: { 'x-id': 'small' } });
    await room.whenStarted(1);
    const big = open(port, '/big', { headers: { 'x-id': 'big' } });
    await until(() => expect(db.waiting).toBe(1));
    expect(db.inUse).toBe(1);
    room.releaseNext();
    await room.whenStarted(2);
    expect(db.inUse).toBe(3);
    room.releaseAll();
    expect((await small).status).toBe(200);
    expect((await big.reply).status).toBe(200);
    await settled(db);
  });

  it('sends what the key, skip or weight function throws to Fastify’s error handler, taking no permit', async () => {
    const limit = concurrencyLimit({
      limit: 1,
      skip: () => {
        throw new Error('skip broke');
      },
    });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get('/', async () => 'never');
    const port = await listen(app);
    const reply = await get(port, '/');
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.body).message).toBe('skip broke');
    expect(limit.limiter.counters.acquired).toBe(0);
  });
});
