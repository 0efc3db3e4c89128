import { type ConcurrencyLimitOptions, concurrencyLimit } from '@doorman/koa';
import { KeyedSemaphore, Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { get, koaVersions, newApp, serve } from './helpers.js';

const build = (options: unknown) => () => concurrencyLimit(options as ConcurrencyLimitOptions);

describe('option validation at construction', () => {
  it('requires an options object', () => {
    expect(build(undefined)).toThrow(TypeError);
    expect(build(undefined)).toThrow(/`options`.*undefined/);
    expect(build(4)).toThrow(/`options`.*`4` \(number\)/);
    expect(build([])).toThrow(TypeError);
  });

  it('requires exactly one of limit and limiter', () => {
    expect(build({})).toThrow(TypeError);
    expect(build({})).toThrow(/exactly one of `limit` and `limiter`.*neither/);
    const both = build({ limit: 2, limiter: new Semaphore({ limit: 2 }) });
    expect(both).toThrow(TypeError);
    expect(both).toThrow(/exactly one of `limit` and `limiter`.*both/);
  });

  it.each([
    ['limit', { limit: '4' }, TypeError, /`limit`.*`'4'` \(string\)/],
    ['limit', { limit: 0 }, RangeError, /`limit`.*`0` \(number\)/],
    ['limit', { limit: 1.5 }, RangeError, /`limit`.*`1.5`/],
    ['limit', { limit: null }, TypeError, /`limit`.*null/],
    ['maxQueue', { limit: 1, maxQueue: -1 }, RangeError, /`maxQueue`.*`-1`/],
    ['maxQueue', { limit: 1, maxQueue: 2.5 }, RangeError, /`maxQueue`.*`2.5`/],
    ['maxQueue', { limit: 1, maxQueue: '10' }, TypeError, /`maxQueue`.*`'10'`/],
    ['queueTimeoutMs', { limit: 1, queueTimeoutMs: 0 }, RangeError, /`queueTimeoutMs`.*`0`/],
    ['queueTimeoutMs', { limit: 1, queueTimeoutMs: -5 }, RangeError, /`queueTimeoutMs`.*`-5`/],
    ['queueTimeoutMs', { limit: 1, queueTimeoutMs: '1s' }, TypeError, /`queueTimeoutMs`.*`'1s'`/],
    ['order', { limit: 1, order: 'random' }, RangeError, /`order`.*`'random'`/],
    ['order', { limit: 1, order: 1 }, TypeError, /`order`.*`1` \(number\)/],
    ['name', { limit: 1, name: '' }, RangeError, /`name`.*`''`/],
    ['name', { limit: 1, name: 7 }, TypeError, /`name`.*`7` \(number\)/],
    ['weight', { limit: 4, weight: 0 }, RangeError, /`weight`.*`0`/],
    ['weight', { limit: 4, weight: 5 }, RangeError, /`weight`.*limit \(4\).*`5`/],
    ['weight', { limit: 4, weight: 1.5 }, RangeError, /`weight`.*`1.5`/],
    ['weight', { limit: 4, weight: '2' }, TypeError, /`weight`.*`'2'`/],
    ['priority', { limit: 1, priority: 3 }, TypeError, /`priority`.*`3` \(number\)/],
    ['key', { limit: 1, key: 'ip' }, TypeError, /`key`.*`'ip'`/],
    ['skip', { limit: 1, skip: true }, TypeError, /`skip`.*`true` \(boolean\)/],
    ['statusCode', { limit: 1, statusCode: 200 }, RangeError, /`statusCode`.*`200`/],
    ['statusCode', { limit: 1, statusCode: 600 }, RangeError, /`statusCode`.*`600`/],
    ['statusCode', { limit: 1, statusCode: 503.5 }, RangeError, /`statusCode`.*`503.5`/],
    ['statusCode', { limit: 1, statusCode: '503' }, TypeError, /`statusCode`.*`'503'`/],
    ['retryAfter', { limit: 1, retryAfter: -1 }, RangeError, /`retryAfter`.*`-1`/],
    ['retryAfter', { limit: 1, retryAfter: Number.NaN }, RangeError, /`retryAfter`.*`NaN`/],
    ['retryAfter', { limit: 1, retryAfter: Infinity }, RangeError, /`retryAfter`.*`Infinity`/],
    ['retryAfter', { limit: 1, retryAfter: 'soon' }, TypeError, /`retryAfter`.*`'soon'`/],
    ['onRejected', { limit: 1, onRejected: 'json' }, TypeError, /`onRejected`.*json/],
    ['limiter', { limiter: {} }, TypeError, /`limiter`.*`\{\}`/],
    ['limiter', { limiter: 'db' }, TypeError, /`limiter`.*`'db'`/],
    [
      'limiter',
      { limiter: { acquire() {}, name: 'x', limit: 2, inUse: 0 } },
      TypeError,
      /`limiter`.*`waiting`/,
    ],
  ])('rejects a bad `%s`: %o', (_name, options, ErrorClass, message) => {
    expect(build(options)).toThrow(ErrorClass);
    expect(build(options)).toThrow(message);
  });

  it('takes `key` only with a keyed `limiter`, and a keyed `limiter` only with `key`', () => {
    expect(build({ limiter: new Semaphore({ limit: 2 }), key: () => 'k' })).toThrow(
      /`key`.*needs a keyed `limiter`/,
    );
    const tenants = new KeyedSemaphore({ limit: 2, totalLimit: 4 });
    expect(build({ limiter: tenants })).toThrow(/`key` next to a keyed `limiter`/);
    expect(concurrencyLimit({ limiter: tenants, key: (ctx) => ctx.ip }).limiter).toBe(tenants);
  });

  it("takes `maxQueue` and `queueTimeoutMs` next to `limiter`: they bound this middleware's own line", () => {
    const limiter = new Semaphore({ limit: 2 });
    expect(build({ limiter, maxQueue: 3, queueTimeoutMs: 100 })).not.toThrow();
    expect(build({ limiter, queueTimeoutMs: 0 })).toThrow(RangeError);
  });

  it.each([
    ['order', 'lifo'],
    ['name', 'db'],
  ])(
    'refuses `%s` next to `limiter` (it configures a semaphore the middleware would build)',
    (name, value) => {
      const options = { limiter: new Semaphore({ limit: 2 }), [name]: value };
      expect(build(options)).toThrow(TypeError);
      expect(build(options)).toThrow(
        new RegExp(`\`${name}\`.*cannot be combined with \`limiter\``),
      );
    },
  );

  it('refuses a weight above the limit of a given limiter', () => {
    const options = { limiter: new Semaphore({ limit: 2 }), weight: 3 };
    expect(build(options)).toThrow(RangeError);
    expect(build(options)).toThrow(/`weight`.*limit \(2\).*`3`/);
  });

  it('refuses unknown options, naming them', () => {
    expect(build({ limit: 2, limt: 4 })).toThrow(TypeError);
    expect(build({ limit: 2, limt: 4 })).toThrow(/Unknown option `limt`.*`4`/);
    expect(build({ limit: 2, timeout: 100 })).toThrow(/Unknown option `timeout`/);
  });

  it('accepts every option with valid values and exposes the limiter it builds', () => {
    const mw = concurrencyLimit({
      limit: 3,
      maxQueue: 0,
      queueTimeoutMs: 100,
      order: 'lifo',
      weight: () => 1,
      priority: () => 0,
      skip: () => false,
      statusCode: 429,
      retryAfter: () => 2,
      onRejected: () => {},
      name: 'api',
    });
    expect(mw.limiter).toBeInstanceOf(Semaphore);
    expect(mw.limiter.name).toBe('api');
    expect(mw.limiter.limit).toBe(3);
    expect(concurrencyLimit({ limit: 1 }).limiter.name).toBe('http');
    expect(concurrencyLimit({ limit: 2, key: () => 'k' }).limiter).toBeInstanceOf(KeyedSemaphore);
    const shared = new Semaphore({ limit: 2 });
    expect(concurrencyLimit({ limiter: shared, weight: 2 }).limiter).toBe(shared);
    expect(Object.keys(mw)).toContain('limiter');
  });
});

describe.each(koaVersions)('%s: defaults', (_label, KoaApp) => {
  it('builds a bounded queue by default: maxQueue 100, then QUEUE_FULL', async () => {
    const { app } = newApp(KoaApp);
    const mw = concurrencyLimit({ limit: 1 });
    const sem = mw.limiter as Semaphore;
    app.use(mw);
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const { port } = await serve(app);
    // Fill the limiter and its queue from outside HTTP: the middleware's own
    // limiter is a plain Semaphore, and its waiters count against maxQueue.
    const held = await sem.acquire();
    const controllers = Array.from({ length: 100 }, () => new AbortController());
    for (const { signal } of controllers) sem.acquire({ signal }).catch(() => {});
    expect(sem.waiting).toBe(100);
    const shed = await get(port).reply;
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.body).toBe('Service Unavailable (QUEUE_FULL)\n');
    for (const controller of controllers) controller.abort();
    held.release();
    await sem.idle();
  });
});
