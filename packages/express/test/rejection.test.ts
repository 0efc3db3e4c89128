import {
  type ConcurrencyLimitOptions,
  concurrencyLimit,
  type HttpRejection,
} from '@doorman/express';
import type { LimitOptions } from '@doorman/http';
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import {
  type ExpressFactory,
  errorRecorder,
  get,
  open,
  Room,
  useServers,
  versions,
} from './helpers.js';

describe.each(versions)('%s: rejection responses', (_label, express) => {
  const listen = useServers();

  /** A full route (limit 1 held, no queue): the next request is rejected. */
  async function rejectOnce(
    factory: ExpressFactory,
    options: Omit<LimitOptions<Request>, 'limit' | 'maxQueue'> &
      Pick<ConcurrencyLimitOptions, 'onRejected'>,
    withErrorHandler = true,
  ) {
    const room = new Room();
    const recorder = errorRecorder();
    const mw = concurrencyLimit({ limit: 1, maxQueue: 0, ...options });
    const app = factory();
    app.get('/sing', mw, room.handler);
    if (withErrorHandler) app.use(recorder.handler);
    const port = await listen(app);
    const holder = open(port, '/sing', { headers: { 'x-id': 'holder' } });
    await room.whenStarted(1);
    const rejected = await get(port, '/sing', { headers: { 'x-id': 'rejected' } });
    expect(room.started).toEqual(['holder']);
    room.releaseAll();
    expect((await holder.reply).status).toBe(200);
    expect(mw.limiter.inUse).toBe(0);
    return { rejected, errors: recorder.errors, mw };
  }

  it('a rejection is not cached and says so', async () => {
    const { rejected } = await rejectOnce(express, {});
    expect(rejected.headers['cache-control']).toBe('no-store');
    expect(rejected.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('a numeric `retryAfter` is sent as whole seconds, rounded up', async () => {
    expect((await rejectOnce(express, { retryAfter: 30 })).rejected.headers['retry-after']).toBe(
      '30',
    );
    expect((await rejectOnce(express, { retryAfter: 2.2 })).rejected.headers['retry-after']).toBe(
      '3',
    );
    expect((await rejectOnce(express, { retryAfter: 0 })).rejected.headers['retry-after']).toBe(
      '0',
    );
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
    ['returns Infinity', () => Number.POSITIVE_INFINITY],
    ['returns a string', () => '10' as unknown as number],
    ['returns undefined', () => undefined as unknown as number],
  ])('a `retryAfter` function that %s falls back to 1 second', async (_case, retryAfter) => {
    const { rejected, errors } = await rejectOnce(express, { retryAfter });
    expect(rejected.status).toBe(503);
    expect(rejected.headers['retry-after']).toBe('1');
    expect(rejected.body).toBe('Service Unavailable (QUEUE_FULL)\n');
    expect(errors).toEqual([]);
  });

  it('`onRejected` writes a custom response with the error it is given', async () => {
    const calls: Array<{ code: string; path: string }> = [];
    const { rejected } = await rejectOnce(express, {
      statusCode: 429,
      retryAfter: 4,
      onRejected: (err, req, res) => {
        calls.push({ code: err.code, path: req.path });
        res
          .status(err.status)
          .set('Retry-After', err.headers['Retry-After'])
          .json({ error: err.code, limiter: err.limiter, retryAfter: err.headers['Retry-After'] });
      },
    });
    expect(calls).toEqual([{ code: 'QUEUE_FULL', path: '/sing' }]);
    expect(rejected.status).toBe(429);
    expect(rejected.headers['retry-after']).toBe('4');
    expect(JSON.parse(rejected.body)).toEqual({
      error: 'QUEUE_FULL',
      limiter: 'http',
      retryAfter: '4',
    });
  });

  it("`onRejected` calling next(err) reaches the app's error handler with status, expose and headers", async () => {
    const { rejected, errors } = await rejectOnce(express, {
      retryAfter: 3,
      onRejected: (err, _req, _res, next) => next(err),
    });
    expect(rejected.status).toBe(503);
    expect(errors).toHaveLength(1);
    const err = errors[0] as HttpRejection;
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('QUEUE_FULL');
    expect(err.status).toBe(503);
    expect(err.statusCode).toBe(503);
    expect(err.expose).toBe(true);
    expect(err.headers).toEqual({ 'Retry-After': '3' });
  });

  it("`onRejected` that throws: its error goes down Express's error path", async () => {
    const failure = new Error('renderer broke');
    const { rejected, errors } = await rejectOnce(express, {
      onRejected: () => {
        throw failure;
      },
    });
    expect(rejected.status).toBe(500);
    expect(rejected.body).toBe('error: renderer broke');
    expect(errors).toEqual([failure]);
  });

  it("`onRejected` calling next(err) with no error handler: Express's final handler answers the status and Retry-After", async () => {
    const { rejected } = await rejectOnce(
      express,
      { statusCode: 429, retryAfter: 6, onRejected: (err, _req, _res, next) => next(err) },
      false,
    );
    expect(rejected.status).toBe(429);
    expect(rejected.headers['retry-after']).toBe('6');
  });
});
