import { Readable } from 'node:stream';
import { Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { concurrencyLimit } from '../src/index.js';
import {
  deferred,
  get,
  open,
  RecordingLimiter,
  Room,
  rawSocket,
  settled,
  until,
  useApps,
  versions,
} from './helpers.js';

describe.each(versions)('%s: release', (_name, fastify) => {
  const listen = useApps();

  it('releases once the response is sent, as a success', async () => {
    const limiter = new RecordingLimiter(new Semaphore({ limit: 1 }));
    const app = fastify();
    app.addHook('onRequest', concurrencyLimit({ limiter }));
    app.get('/', async () => 'ok');
    const port = await listen(app);
    expect((await get(port, '/')).status).toBe(200);
    await settled(limiter);
    expect(limiter.releaseOrder).toEqual(['success']);
  });

  it('releases a handler that throws as dropped, and a 4xx error as a success', async () => {
    const limiter = new RecordingLimiter(new Semaphore({ limit: 1 }));
    const app = fastify();
    app.addHook('onRequest', concurrencyLimit({ limiter }));
    app.get('/boom', async () => {
      throw new Error('boom');
    });
    app.get('/missing', async () => {
      throw Object.assign(new Error('no such thing'), { statusCode: 404 });
    });
    app.get('/503', async (_request, reply) => reply.code(503).send('down'));
    const port = await listen(app);
    expect((await get(port, '/boom')).status).toBe(500);
    await settled(limiter);
    expect((await get(port, '/missing')).status).toBe(404);
    await settled(limiter);
    expect((await get(port, '/503')).status).toBe(503);
    await settled(limiter);
    expect(limiter.releaseOrder).toEqual(['dropped', 'success', 'dropped']);
  });

  it('holds the permit of a streamed reply until the stream ends', async () => {
    const limit = concurrencyLimit({ limit: 1 });
    const body = new Readable({ read() {} });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get('/stream', async (_request, reply) => reply.type('text/plain').send(body));
    const port = await listen(app);
    const request = open(port, '/stream');
    body.push('first ');
    await request.firstChunk;
    expect(limit.limiter.inUse).toBe(1);
    body.push('last');
    body.push(null);
    expect((await request.reply).body).toBe('first last');
    await settled(limit.limiter);
  });

  it('takes a client that leaves while queued out of the line: its handler never runs', async () => {
    const room = new Room();
    const limit = concurrencyLimit({ limit: 1 });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get('/sing', room.handler);
    const port = await listen(app);
    const first = get(port, '/sing', { headers: { 'x-id': 'a' } });
    await room.whenStarted(1);
    const leaver = open(port, '/sing', { headers: { 'x-id': 'b' } });
    await until(() => expect(limit.limiter.waiting).toBe(1));
    leaver.req.destroy();
    await until(() => expect(limit.limiter.waiting).toBe(0));
    expect(limit.limiter.counters.rejected.aborted).toBe(1);
    room.releaseAll();
    expect((await first).status).toBe(200);
    expect(room.started).toEqual(['a']);
    await settled(limit.limiter);
  });

  it('with the hook alone, releases as ignored when the client leaves while its handler runs', async () => {
    const limiter = new RecordingLimiter(new Semaphore({ limit: 1 }));
    const handlerDone = deferred();
    const room = new Room();
    const app = fastify();
    app.addHook('onRequest', concurrencyLimit({ limiter }));
    app.get('/sing', async (request) => {
      try {
        return await room.handler(request);
      } finally {
        handlerDone.resolve();
      }
    });
    const port = await listen(app);
    const leaver = open(port, '/sing');
    await room.whenStarted(1);
    leaver.req.destroy();
    // Fastify runs no hook when the handler settles after its client left, so
    // the hook's hold ends with the connection, while the handler still runs.
    await settled(limiter);
    expect(room.running).toBe(1);
    expect(limiter.releaseOrder).toEqual(['ignored']);
    room.releaseAll();
    await handlerDone.promise;
  });

  it('with wrap, holds the permit until the handler settles after its client left', async () => {
    const limiter = new RecordingLimiter(new Semaphore({ limit: 1 }));
    const limit = concurrencyLimit({ limiter });
    const room = new Room();
    const app = fastify();
    app.get('/sing', { onRequest: limit }, limit.wrap(room.handler));
    const port = await listen(app);
    const leaver = open(port, '/sing');
    await room.whenStarted(1);
    leaver.req.destroy();
    await until(() => expect(limiter.inner.counters.acquired).toBe(1));
    // The connection is gone, the handler still works: the slot stays taken.
    const next = open(port, '/sing', { headers: { 'x-id': 'next' } });
    await until(() => expect(limiter.waiting).toBe(1));
    expect(limiter.inUse).toBe(1);
    room.releaseNext();
    await room.whenStarted(2);
    expect(limiter.releaseOrder).toEqual(['ignored']);
    room.releaseAll();
    expect((await next.reply).body).toBe('sang next');
    await settled(limiter);
    expect(limiter.releaseOrder).toEqual(['ignored', 'success']);
  });

  it('wrap alone limits, queues and refuses like the hook', async () => {
    const room = new Room();
    const limit = concurrencyLimit({ limit: 1, maxQueue: 1 });
    const app = fastify();
    app.get('/sing', limit.wrap(room.handler));
    const port = await listen(app);
    const a = get(port, '/sing', { headers: { 'x-id': 'a' } });
    await room.whenStarted(1);
    const b = get(port, '/sing', { headers: { 'x-id': 'b' } });
    await until(() => expect(limit.limiter.waiting).toBe(1));
    const refused = await get(port, '/sing');
    expect(refused.status).toBe(503);
    expect(refused.body).toBe('Service Unavailable (QUEUE_FULL)\n');
    room.releaseNext();
    await room.whenStarted(2);
    expect(room.peak).toBe(1);
    room.releaseAll();
    expect([(await a).body, (await b).body]).toEqual(['sang a', 'sang b']);
    await settled(limit.limiter);
  });

  it('wrap releases a handler that throws as dropped, once', async () => {
    const limiter = new RecordingLimiter(new Semaphore({ limit: 1 }));
    const limit = concurrencyLimit({ limiter });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get(
      '/sync',
      limit.wrap(() => {
        throw new Error('sync boom');
      }),
    );
    app.get(
      '/async',
      limit.wrap(async () => {
        throw new Error('async boom');
      }),
    );
    const port = await listen(app);
    expect((await get(port, '/sync')).status).toBe(500);
    await settled(limiter);
    expect((await get(port, '/async')).status).toBe(500);
    await settled(limiter);
    expect(limiter.releaseOrder).toEqual(['dropped', 'dropped']);
    expect(limiter.counters.acquired).toBe(2);
  });

  for (const limit of [1, 3]) {
    it(`releases everything of a pipelined connection that dies (limit ${limit}: running and queued)`, async () => {
      const room = new Room();
      const hook = concurrencyLimit({ limit, maxQueue: 10 });
      const app = fastify();
      app.addHook('onRequest', hook);
      app.get('/sing', room.handler);
      const port = await listen(app);
      const line = 'GET /sing HTTP/1.1\r\nHost: x\r\n\r\n';
      const socket = await rawSocket(port, line + line + line);
      await room.whenStarted(1);
      await until(() => expect(hook.limiter.inUse + hook.limiter.waiting).toBe(3));
      socket.destroy();
      await settled(hook.limiter);
      room.releaseAll();
      // A queued request of the dead connection never runs its handler (it
      // left the line, or was handed a permit in the same tick and gave it back).
      expect(room.started).toHaveLength(limit);
      const after = get(port, '/sing');
      await room.whenStarted(limit + 1);
      room.releaseAll();
      expect((await after).status).toBe(200);
      await settled(hook.limiter);
    });
  }
});
