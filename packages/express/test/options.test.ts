import { type ConcurrencyLimitOptions, concurrencyLimit, Semaphore } from '@doorman/express';
import { describe, expect, it, vi } from 'vitest';

/** Calls `concurrencyLimit` with options the types would refuse. */
function build(options: unknown) {
  return () => concurrencyLimit(options as ConcurrencyLimitOptions);
}

/** What the error must be: its class, and the fragments its message must contain. */
function expectThrow(
  options: unknown,
  kind: typeof TypeError | typeof RangeError,
  ...parts: string[]
) {
  let thrown: unknown;
  try {
    build(options)();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `options ${String(JSON.stringify(options))} should throw`).toBeInstanceOf(kind);
  // A RangeError is not a TypeError and vice versa: the kind is exact.
  expect((thrown as Error).constructor).toBe(kind);
  for (const part of parts) expect((thrown as Error).message).toContain(part);
}

const fn = () => 1;

describe('option validation at construction', () => {
  it('accepts the documented forms and exposes the limiter it built', () => {
    const mw = concurrencyLimit({ limit: 3 });
    expect(typeof mw).toBe('function');
    expect(mw.name).toBe('concurrencyLimit');
    expect(mw.length).toBe(3);
    expect(mw.limiter).toBeInstanceOf(Semaphore);
    expect(mw.limiter.limit).toBe(3);
    expect(mw.limiter.name).toBe('http');
    expect(concurrencyLimit({ limit: 3, name: 'api' }).limiter.name).toBe('api');
    const sem = new Semaphore({ limit: 2 });
    expect(concurrencyLimit({ limiter: sem, weight: 2 }).limiter).toBe(sem);
    expect(() =>
      concurrencyLimit({
        limit: 4,
        maxQueue: 0,
        queueTimeoutMs: 10,
        order: 'lifo',
        weight: 4,
        priority: fn,
        key: () => 'k',
        skip: () => false,
        statusCode: 429,
        retryAfter: 0,
        onRejected: () => {},
        name: 'all',
      }),
    ).not.toThrow();
    expect(() => concurrencyLimit({ limit: 1, maxQueue: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  it('uses the documented defaults: maxQueue 100, queueTimeoutMs 5000', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const sem = concurrencyLimit({ limit: 1 }).limiter as Semaphore;
      const held = sem.tryAcquire();
      const codes: string[] = [];
      const waiters = Array.from({ length: 100 }, () =>
        sem.acquire().catch((error: { code: string }) => {
          codes.push(error.code);
        }),
      );
      await expect(sem.acquire()).rejects.toMatchObject({ code: 'QUEUE_FULL' });
      expect(sem.waiting).toBe(100);
      vi.advanceTimersByTime(4999);
      expect(sem.waiting).toBe(100);
      vi.advanceTimersByTime(1);
      await Promise.all(waiters);
      expect(sem.waiting).toBe(0);
      expect(codes).toEqual(Array.from({ length: 100 }, () => 'QUEUE_TIMEOUT'));
      held?.release();
      expect(sem.counters.rejected).toMatchObject({ queue_full: 1, timeout: 100 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('needs exactly one of `limit` and `limiter`', () => {
    expectThrow({}, TypeError, '`limit`', '`limiter`', 'neither');
    expectThrow({ limit: 2, limiter: new Semaphore({ limit: 2 }) }, TypeError, 'both');
  });

  it('rejects options that are not an object', () => {
    expectThrow(undefined, TypeError, '`options`', '`undefined`');
    expectThrow(null, TypeError, '`options`', '`null`');
    expectThrow(4, TypeError, '`options`', '`4`');
    expectThrow([], TypeError, '`options`');
  });

  it.each([
    ['limit', { limit: '4' }, TypeError, "`'4'` (string)"],
    ['limit', { limit: 0 }, RangeError, '`0` (number)'],
    ['limit', { limit: 2.5 }, RangeError, '`2.5` (number)'],
    ['limit', { limit: Number.NaN }, RangeError, '`NaN` (number)'],
    ['limiter', { limiter: {} }, TypeError, '`{}` (object)'],
    ['limiter', { limiter: 'redis' }, TypeError, "`'redis'` (string)"],
    [
      'limiter',
      { limiter: { acquire: fn, name: 'x', limit: 1, inUse: 0 } },
      TypeError,
      '`waiting`',
    ],
    ['maxQueue', { limit: 1, maxQueue: '10' }, TypeError, "`'10'` (string)"],
    ['maxQueue', { limit: 1, maxQueue: -1 }, RangeError, '`-1` (number)'],
    ['maxQueue', { limit: 1, maxQueue: 1.5 }, RangeError, '`1.5` (number)'],
    ['queueTimeoutMs', { limit: 1, queueTimeoutMs: '5s' }, TypeError, "`'5s'` (string)"],
    ['queueTimeoutMs', { limit: 1, queueTimeoutMs: 0 }, RangeError, '`0` (number)'],
    ['queueTimeoutMs', { limit: 1, queueTimeoutMs: -5 }, RangeError, '`-5` (number)'],
    ['order', { limit: 1, order: 'random' }, RangeError, "`'random'` (string)"],
    ['order', { limit: 1, order: 1 }, TypeError, '`1` (number)'],
    ['name', { limit: 1, name: '' }, RangeError, "`''` (string)"],
    ['name', { limit: 1, name: 7 }, TypeError, '`7` (number)'],
    ['weight', { limit: 4, weight: '2' }, TypeError, "`'2'` (string)"],
    ['weight', { limit: 4, weight: 0 }, RangeError, '`0` (number)'],
    ['weight', { limit: 4, weight: 1.5 }, RangeError, '`1.5` (number)'],
    ['weight', { limit: 4, weight: 5 }, RangeError, '`5` (number)'],
    ['weight', { limiter: new Semaphore({ limit: 2 }), weight: 3 }, RangeError, '`3` (number)'],
    ['priority', { limit: 1, priority: 5 }, TypeError, '`5` (number)'],
    ['key', { limit: 1, key: 'tenant' }, TypeError, "`'tenant'` (string)"],
    ['skip', { limit: 1, skip: true }, TypeError, '`true` (boolean)'],
    ['statusCode', { limit: 1, statusCode: '503' }, TypeError, "`'503'` (string)"],
    ['statusCode', { limit: 1, statusCode: 200 }, RangeError, '`200` (number)'],
    ['statusCode', { limit: 1, statusCode: 600 }, RangeError, '`600` (number)'],
    ['statusCode', { limit: 1, statusCode: 503.5 }, RangeError, '`503.5` (number)'],
    ['retryAfter', { limit: 1, retryAfter: '1' }, TypeError, "`'1'` (string)"],
    ['retryAfter', { limit: 1, retryAfter: -1 }, RangeError, '`-1` (number)'],
    ['retryAfter', { limit: 1, retryAfter: Number.NaN }, RangeError, '`NaN` (number)'],
    ['retryAfter', { limit: 1, retryAfter: Number.POSITIVE_INFINITY }, RangeError, '`Infinity`'],
    ['onRejected', { limit: 1, onRejected: 'json' }, TypeError, 'json'],
  ] as const)(
    'a bad `%s` throws, naming the option and the value: %j',
    (name, options, kind, shown) => {
      expectThrow(options, kind, `\`${name}\``, shown);
    },
  );

  it.each([
    ['order', 'lifo'],
    ['name', 'db'],
    ['key', () => 'tenant'],
  ] as const)('`%s` belongs to a built limiter, so it cannot go with `limiter`', (name, value) => {
    expectThrow(
      { limiter: new Semaphore({ limit: 2 }), [name]: value },
      TypeError,
      `\`${name}\``,
      '`limiter`',
    );
  });

  it("takes `maxQueue` and `queueTimeoutMs` next to `limiter`: they bound this middleware's own line", () => {
    const limiter = new Semaphore({ limit: 2 });
    expect(concurrencyLimit({ limiter, maxQueue: 3, queueTimeoutMs: 100 }).limiter).toBe(limiter);
    expectThrow({ limiter, maxQueue: -1 }, RangeError, '`maxQueue`', '`-1` (number)');
  });

  it('refuses unknown option keys, naming them', () => {
    expectThrow({ limit: 1, limt: 2 }, TypeError, '`limt`', '`2` (number)');
    expectThrow({ limit: 1, timeout: 100 }, TypeError, '`timeout`');
    expectThrow({ limiter: new Semaphore({ limit: 1 }), maxQueu: 1 }, TypeError, '`maxQueu`');
  });
});
