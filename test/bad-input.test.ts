// Every option of every package, given a wrong type or an out-of-range value,
// throws at construction, and the message names the option and shows the value.
import { concurrencyLimit as expressLimit } from '@doorman/express';
import { concurrencyLimit as koaLimit } from '@doorman/koa';
import { registerMetrics } from '@doorman/prometheus';
import { RedisSemaphore } from '@doorman/redis';
import { KeyedSemaphore, Semaphore } from '@doorman/semaphore';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';

type Make = (options: Record<string, unknown>) => unknown;
type Case = [option: string, value: unknown, error: typeof TypeError | typeof RangeError];

/** How a value appears in a message: `value` (type). */
function shown(value: unknown): string {
  if (typeof value === 'string') return `\`'${value}'\` (string)`;
  if (typeof value === 'function') return '(function)';
  if (value === null) return '`null` (null)';
  // Arrays are shown as JSON; their type reads (object) or (array).
  if (Array.isArray(value)) return `\`${JSON.stringify(value)}\``;
  if (typeof value === 'object') return `\`${JSON.stringify(value)}\` (object)`;
  return `\`${String(value)}\` (${typeof value})`;
}

function expectRejected(make: () => unknown, option: string, value: unknown, error: Case[2]) {
  let thrown: unknown;
  try {
    make();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `${option} = ${String(value)} should throw`).toBeInstanceOf(error);
  const message = (thrown as Error).message;
  expect(message).toContain(`\`${option}\``);
  expect(message).toContain(shown(value));
}

function table(name: string, make: Make, base: Record<string, unknown>, cases: Case[]) {
  describe(name, () => {
    it.each(cases)('rejects `%s` = %o with %O', (option, value, error) => {
      expectRejected(() => make({ ...base, [option]: value }), option, value, error);
    });

    it('rejects an unknown option, naming it and its value', () => {
      expectRejected(() => make({ ...base, limt: 4 }), 'limt', 4, TypeError);
    });
  });
}

const semaphoreCases: Case[] = [
  ['limit', '4', TypeError],
  ['limit', 0, RangeError],
  ['limit', 1.5, RangeError],
  ['limit', -1, RangeError],
  ['limit', Number.NaN, RangeError],
  ['limit', Number.POSITIVE_INFINITY, RangeError],
  ['maxQueue', 'ten', TypeError],
  ['maxQueue', -1, RangeError],
  ['maxQueue', 2.5, RangeError],
  ['queueTimeoutMs', '100', TypeError],
  ['queueTimeoutMs', 0, RangeError],
  ['queueTimeoutMs', -5, RangeError],
  ['queueTimeoutMs', Number.NaN, RangeError],
  ['order', 'random', RangeError],
  ['order', 1, TypeError],
  ['name', '', RangeError],
  ['name', 5, TypeError],
];

table('Semaphore', (o) => new Semaphore(o as never), { limit: 4 }, semaphoreCases);
table('KeyedSemaphore', (o) => new KeyedSemaphore(o as never), { limit: 4 }, [
  ...semaphoreCases,
  ['totalLimit', '10', TypeError],
  ['totalLimit', 0, RangeError],
  ['totalLimit', 2.5, RangeError],
  ['totalLimit', Number.POSITIVE_INFINITY, RangeError],
]);

const middlewareCases: Case[] = [
  ['limit', '4', TypeError],
  ['limit', 0, RangeError],
  ['limit', 2.5, RangeError],
  ['maxQueue', -1, RangeError],
  ['maxQueue', 'many', TypeError],
  ['queueTimeoutMs', 0, RangeError],
  ['queueTimeoutMs', 'soon', TypeError],
  ['order', 'random', RangeError],
  ['weight', 0, RangeError],
  ['weight', 5, RangeError],
  ['weight', 'heavy', TypeError],
  ['priority', 5, TypeError],
  ['key', 'tenant', TypeError],
  // A total over all keys means nothing without `key`.
  ['totalLimit', 10, TypeError],
  ['skip', true, TypeError],
  ['statusCode', 200, RangeError],
  ['statusCode', 600, RangeError],
  ['statusCode', 503.5, RangeError],
  ['statusCode', '503', TypeError],
  ['retryAfter', -1, RangeError],
  ['retryAfter', Number.POSITIVE_INFINITY, RangeError],
  ['retryAfter', 'soon', TypeError],
  ['name', '', RangeError],
  ['name', 7, TypeError],
  ['onRejected', 'json', TypeError],
];

for (const [framework, make] of [
  ['@doorman/express concurrencyLimit', expressLimit as (options: never) => unknown],
  ['@doorman/koa concurrencyLimit', koaLimit as (options: never) => unknown],
] as const) {
  table(framework, (o) => make(o as never), { limit: 4 }, middlewareCases);
  table(`${framework} with \`key\``, (o) => make(o as never), { limit: 4, key: () => 'k' }, [
    ['totalLimit', '10', TypeError],
    ['totalLimit', 0, RangeError],
    ['totalLimit', 2.5, RangeError],
    ['totalLimit', Number.POSITIVE_INFINITY, RangeError],
  ]);

  describe(`${framework} with \`limiter\``, () => {
    const limiter = new Semaphore({ limit: 2 });
    it.each([
      ['order', 'lifo'],
      ['name', 'api'],
      ['key', () => 'k'],
      ['totalLimit', 10],
    ])('rejects `%s` next to `limiter`, which it would configure', (option, value) => {
      expectRejected(() => make({ limiter, [option]: value } as never), option, value, TypeError);
    });

    it('rejects a `limiter` that is not shaped as a Limiter', () => {
      expectRejected(
        () => make({ limiter: { acquire: 1 } } as never),
        'limiter',
        { acquire: 1 },
        TypeError,
      );
    });

    it('needs exactly one of `limit` and `limiter`', () => {
      expect(() => make({} as never)).toThrow(/exactly one of `limit` and `limiter`, got neither/);
      expect(() => make({ limit: 2, limiter } as never)).toThrow(
        /exactly one of `limit` and `limiter`, got both/,
      );
    });
  });
}

describe('@doorman/prometheus registerMetrics', () => {
  const limiter = new Semaphore({ limit: 1, name: 'bad_input' });
  const cases: Case[] = [
    ['prefix', 5, TypeError],
    ['prefix', '1abc', RangeError],
    ['labels', 'service=api', TypeError],
    ['registry', { metrics: 1 }, TypeError],
    ['buckets', [], TypeError],
    ['buckets', [2, 1], RangeError],
  ];
  it.each(cases)('rejects `%s` = %o with %O', (option, value, error) => {
    expectRejected(
      () => registerMetrics(limiter, { registry: new Registry(), [option]: value } as never),
      option,
      value,
      error,
    );
  });

  it('rejects a static label that doorman sets itself', () => {
    expect(() =>
      registerMetrics(limiter, { registry: new Registry(), labels: { limiter: 'x' } }),
    ).toThrow(/`limiter`/);
  });

  it('rejects an unknown option, naming it', () => {
    expect(() =>
      registerMetrics(limiter, { registry: new Registry(), prefx: 'a_' } as never),
    ).toThrow(/`prefx`/);
  });
});

describe('@doorman/redis RedisSemaphore', () => {
  // Never connects: construction checks options before touching Redis.
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
  afterAll(() => redis.disconnect());
  const make: Make = (o) => new RedisSemaphore(o as never);
  table('options', make, { redis, key: 'bad-input', limit: 4 }, [
    ['key', '', RangeError],
    ['key', 42, TypeError],
    ['limit', 0, RangeError],
    ['limit', '4', TypeError],
    ['leaseMs', 0, RangeError],
    ['leaseMs', Number.POSITIVE_INFINITY, RangeError],
    ['leaseMs', '10s', TypeError],
    ['maxQueue', -1, RangeError],
    ['queueTimeoutMs', 0, RangeError],
    ['failOpen', 'yes', TypeError],
    ['name', '', RangeError],
    ['unavailableAfterMs', 0, RangeError],
    ['onLeaseLost', 'log', TypeError],
  ]);

  it('rejects a `redis` that is not an ioredis client', () => {
    expectRejected(
      () => new RedisSemaphore({ redis: { get: 1 }, key: 'k', limit: 1 } as never),
      'redis',
      { get: 1 },
      TypeError,
    );
  });
});
