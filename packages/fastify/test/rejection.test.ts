import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { concurrencyLimit, type HttpRejection, isDoormanError } from '../src/index.js';
import { get, Room, settled, until, useApps, versions } from './helpers.js';

describe.each(versions)('%s: onRejected', (_name, fastify) => {
  const listen = useApps();

  /** An app whose one route is full (limit 1, no line) while `room` holds its first request. */
  async function full(
    app: FastifyInstance,
    hook: ReturnType<typeof concurrencyLimit>,
  ): Promise<{ port: number; room: Room; first: Promise<unknown> }> {
    const room = new Room();
    app.addHook('onRequest', hook);
    app.get('/sing', room.handler);
    const port = await listen(app);
    const first = get(port, '/sing');
    await room.whenStarted(1);
    return { port, room, first };
  }

  it('answers each default refusal once: Fastify logs no warning nor error about a second send', async () => {
    const lines: string[] = [];
    const app = fastify({
      logger: { level: 'warn', stream: { write: (line: string) => void lines.push(line) } },
    });
    // One route refuses a full line, the other times its waiter out: neither waits on the other.
    const full = concurrencyLimit({ limit: 1, maxQueue: 0 });
    const timed = concurrencyLimit({ limit: 1, maxQueue: 1, queueTimeoutMs: 10 });
    const room = new Room();
    app.get('/full', { onRequest: full }, room.handler);
    app.get('/timed', { onRequest: timed }, room.handler);
    const port = await listen(app);
    const first = get(port, '/full');
    const second = get(port, '/timed');
    await room.whenStarted(2);
    const refused = await get(port, '/full');
    const timedOut = await get(port, '/timed');
    expect(timedOut.body).toBe('Service Unavailable (QUEUE_TIMEOUT)\n');
    expect(refused.body).toBe('Service Unavailable (QUEUE_FULL)\n');
    room.releaseAll();
    await first;
    await second;
    expect(lines).toEqual([]);
  });

  it('answers with what a sync onRejected sends', async () => {
    const seen: HttpRejection[] = [];
    const hook = concurrencyLimit({
      limit: 1,
      maxQueue: 0,
      onRejected(error, request, reply) {
        seen.push(error);
        reply
          .code(error.statusCode)
          .headers(error.headers)
          .send({ error: error.code, url: request.url });
      },
    });
    const { port, room, first } = await full(fastify(), hook);
    const refused = await get(port, '/sing');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body)).toEqual({ error: 'QUEUE_FULL', url: '/sing' });
    expect(isDoormanError(seen[0], 'QUEUE_FULL')).toBe(true);
    expect(seen[0]?.expose).toBe(true);
    room.releaseAll();
    await first;
    await settled(hook.limiter);
  });

  it('answers with what an async onRejected sends after a wait in line', async () => {
    const hook = concurrencyLimit({
      limit: 1,
      queueTimeoutMs: 10,
      async onRejected(error, _request, reply) {
        await Promise.resolve();
        return reply.code(429).send(`later: ${error.code}`);
      },
    });
    const { port, room, first } = await full(fastify(), hook);
    const refused = await get(port, '/sing');
    expect(refused.status).toBe(429);
    expect(refused.body).toBe('later: QUEUE_TIMEOUT');
    room.releaseAll();
    await first;
    expect(room.started).toHaveLength(1);
    await settled(hook.limiter);
  });

  it('hands the rejection thrown by onRejected to Fastify’s error handler, with its status and Retry-After', async () => {
    const hook = concurrencyLimit({
      limit: 1,
      maxQueue: 0,
      retryAfter: 9,
      onRejected(error) {
        throw error;
      },
    });
    const { port, room, first } = await full(fastify(), hook);
    const refused = await get(port, '/sing');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('9');
    expect(JSON.parse(refused.body)).toMatchObject({ statusCode: 503, code: 'QUEUE_FULL' });
    room.releaseAll();
    await first;
  });

  it('sends an async onRejected that rejects to Fastify’s error handler, never unhandled', async () => {
    const errors: unknown[] = [];
    const app = fastify();
    app.setErrorHandler((error, _request, reply) => {
      errors.push(error);
      reply.code(500).send('handled');
    });
    const hook = concurrencyLimit({
      limit: 1,
      queueTimeoutMs: 10,
      async onRejected() {
        await Promise.resolve();
        throw new Error('onRejected broke');
      },
    });
    const { port, room, first } = await full(app, hook);
    const refused = await get(port, '/sing');
    expect(refused.status).toBe(500);
    expect(refused.body).toBe('handled');
    expect((errors[0] as Error).message).toBe('onRejected broke');
    room.releaseAll();
    await first;
    expect(room.started).toHaveLength(1);
    await settled(hook.limiter);
  });

  it('still stops the request when onRejected rejects without a reason', async () => {
    const hook = concurrencyLimit({
      limit: 1,
      maxQueue: 0,
      onRejected: () => Promise.reject(undefined),
    });
    const { port, room, first } = await full(fastify(), hook);
    const refused = await get(port, '/sing');
    expect(refused.status).toBe(500);
    room.releaseAll();
    await first;
    expect(room.started).toHaveLength(1);
    await settled(hook.limiter);
  });

  it('wrap hands an onRejected rejection to Fastify’s error handler too', async () => {
    const room = new Room();
    const limit = concurrencyLimit({
      limit: 1,
      maxQueue: 0,
      async onRejected() {
        throw Object.assign(new Error('custom'), { statusCode: 418 });
      },
    });
    const app = fastify();
    app.get('/sing', limit.wrap(room.handler));
    const port = await listen(app);
    const first = get(port, '/sing');
    await room.whenStarted(1);
    const refused = await get(port, '/sing');
    expect(refused.status).toBe(418);
    room.releaseAll();
    await first;
    await until(() => expect(limit.limiter.inUse).toBe(0));
  });
});
