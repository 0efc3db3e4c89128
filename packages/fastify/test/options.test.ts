import { Semaphore } from '@doorman/semaphore';
import fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { concurrencyLimit } from '../src/index.js';

describe('options', () => {
  it('rejects bad options at construction, naming the option and the value', () => {
    expect(() => concurrencyLimit({ limit: 0 })).toThrow(
      new RangeError('Expected `limit` to be an integer >= 1, got `0` (number)'),
    );
    expect(() => concurrencyLimit({ limit: 1, onRejected: 'no' as never })).toThrow(TypeError);
    expect(() => concurrencyLimit({ limit: 1, onRejected: 'no' as never })).toThrow(/onRejected/);
    expect(() => concurrencyLimit({ limt: 1 } as never)).toThrow(/limt/);
    expect(() => concurrencyLimit({ limit: 1, statusCode: 200 })).toThrow(RangeError);
    expect(() => concurrencyLimit({} as never)).toThrow(TypeError);
  });

  it('rejects a wrap of something that is not a function', () => {
    const limit = concurrencyLimit({ limit: 1 });
    expect(() => limit.wrap('handler' as never)).toThrow(
      new TypeError("Expected `handler` to be a function, got `'handler'` (string)"),
    );
  });

  it('carries the limiter it was given, typed as given', async () => {
    const db = new Semaphore({ limit: 2, name: 'db' });
    const limit = concurrencyLimit({ limiter: db, maxQueue: 5, queueTimeoutMs: 100 });
    expect(limit.limiter).toBe(db);
    await limit.limiter.close();
    expect(concurrencyLimit({ limit: 3, key: () => 'k' }).limiter.activeKeys).toBe(0);
  });

  it('works as a preHandler hook too, where key can read the parsed body', async () => {
    const limit = concurrencyLimit({
      limit: 1,
      key: (request) => String((request.body as { tenant?: string } | undefined)?.tenant),
    });
    const app = fastify();
    app.post('/job', { preHandler: limit }, async () => 'queued');
    await app.ready();
    const reply = await app.inject({ method: 'POST', url: '/job', payload: { tenant: 'acme' } });
    expect(reply.body).toBe('queued');
    expect(limit.limiter.counters.acquired).toBe(1);
    expect(limit.limiter.inUse).toBe(0);
    await app.close();
  });

  it('is accepted by Fastify as an app-wide and a per-route onRequest hook', async () => {
    const limit = concurrencyLimit({ limit: 1 });
    const app = fastify();
    app.addHook('onRequest', limit);
    app.get<{ Params: { id: string } }>(
      '/x/:id',
      { onRequest: [limit] },
      async (request) => request.params.id,
    );
    app.get<{ Params: { id: string } }>(
      '/y/:id',
      limit.wrap(async (request) => request.params.id),
    );
    await app.ready();
    expect((await app.inject('/x/7')).body).toBe('7');
    expect((await app.inject('/y/8')).body).toBe('8');
    expect(limit.limiter.inUse).toBe(0);
    expect(limit.limiter.counters.acquired).toBe(2);
    await app.close();
  });
});
