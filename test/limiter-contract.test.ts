// Runs the one limiter contract against the core Semaphore, AdaptiveSemaphore,
// and RedisSemaphore on the real Redis at 127.0.0.1:6379 (each limiter its own key).
import { randomBytes } from 'node:crypto';
import { AdaptiveSemaphore } from '@doorman/adaptive';
import { RedisSemaphore } from '@doorman/redis';
import { Semaphore } from '@doorman/semaphore';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { type ContractLimiter, limiterContract } from './limiter-contract.js';

limiterContract('Semaphore', {
  make: (options) => new Semaphore(options),
  // Everything the core does is synchronous; one turn of the event loop is plenty.
  settle: () => new Promise<void>((resolve) => setImmediate(resolve)),
});

// The contract pins the limit (it checks `inUse` against the limit it set), so
// minLimit = maxLimit: every release still goes through the sampling path.
// A moving limit is tested in packages/adaptive and test/adaptive.property.test.ts.
limiterContract('AdaptiveSemaphore', {
  make: ({ limit, ...rest }) =>
    new AdaptiveSemaphore({ initialLimit: limit, minLimit: limit, maxLimit: limit, ...rest }),
  settle: () => new Promise<void>((resolve) => setImmediate(resolve)),
});

let redis: Redis;
const keyOf = new WeakMap<ContractLimiter, string>();
const prefix = `contract-${randomBytes(4).toString('hex')}`;
let counter = 0;

limiterContract('RedisSemaphore', {
  setup: async () => {
    redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
  },
  teardown: async () => {
    await redis.quit();
  },
  make: (options) => {
    const key = `${prefix}-${++counter}`;
    const limiter = new RedisSemaphore({ redis, key, ...options });
    keyOf.set(limiter, key);
    return limiter;
  },
  // Replies come back in order on one connection: once a PING sent now is
  // answered, every acquire sent before it has had its answer handled.
  settle: async () => {
    await redis.ping();
    await new Promise<void>((resolve) => setImmediate(resolve));
  },
  // Nothing is left in Redis once a limiter is closed and idle.
  verifyClean: async (limiter) => {
    expect(await redis.keys(`doorman:{${keyOf.get(limiter)}}*`)).toEqual([]);
  },
});
