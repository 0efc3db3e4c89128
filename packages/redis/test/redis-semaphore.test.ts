// RedisSemaphore on its own: options, the Redis state it keeps, FIFO across
// connections, the one subscriber per client, and the backstop for a lost
// grant message. (The behaviour it shares with the core is in
// test/limiter-contract.ts.)
import { RedisSemaphore } from '@doorman/redis';
import { isDoormanError } from '@doorman/semaphore';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  connect,
  freePort,
  type RedisServer,
  redisKeys,
  startRedisServer,
  uniqueKey,
} from './helpers.js';

let redis: Redis;
let other: Redis;

beforeAll(async () => {
  redis = await connect();
  other = await connect();
});

afterAll(async () => {
  await redis.quit();
  await other.quit();
});

const made: RedisSemaphore[] = [];
function semaphore(options: Partial<ConstructorParameters<typeof RedisSemaphore>[0]> = {}) {
  const s = new RedisSemaphore({ redis, key: uniqueKey('unit'), limit: 1, ...options });
  made.push(s);
  return s;
}

afterAll(async () => {
  for (const s of made) {
    await s.close();
    await s.idle();
  }
});

describe('options', () => {
  it('validates eagerly, naming the option and the value', () => {
    expect(() => new RedisSemaphore({ redis, key: 'k', limit: 0 })).toThrow(
      new RangeError('Expected `limit` to be an integer >= 1, got `0` (number)'),
    );
    expect(() => new RedisSemaphore({ redis, key: 'k', limit: '2' as never })).toThrow(
      new TypeError("Expected `limit` to be an integer >= 1, got `'2'` (string)"),
    );
    expect(() => new RedisSemaphore({ redis, key: '', limit: 1 })).toThrow(RangeError);
    expect(() => new RedisSemaphore({ redis, key: 'a{b}', limit: 1 })).toThrow(
      /`key` to be a non-empty string without `\{` or `\}`/,
    );
    expect(() => new RedisSemaphore({ redis, key: 'k', limit: 1, leaseMs: 5 })).toThrow(
      new RangeError(
        'Expected `leaseMs` to be a finite number of milliseconds >= 30, got `5` (number)',
      ),
    );
    expect(() => new RedisSemaphore({ redis, key: 'k', limit: 1, maxQueue: -1 })).toThrow(
      RangeError,
    );
    expect(() => new RedisSemaphore({ redis, key: 'k', limit: 1, queueTimeoutMs: 0 })).toThrow(
      RangeError,
    );
    expect(() => new RedisSemaphore({ redis, key: 'k', limit: 1, failOpen: 1 as never })).toThrow(
      new TypeError('Expected `failOpen` to be a boolean, got `1` (number)'),
    );
    expect(
      () => new RedisSemaphore({ redis, key: 'k', limit: 1, onLeaseLost: 'x' as never }),
    ).toThrow(TypeError);
    expect(() => new RedisSemaphore({ redis: {} as never, key: 'k', limit: 1 })).toThrow(
      /Expected `redis` to be an ioredis client/,
    );
    expect(() => new RedisSemaphore({ redis, key: 'k', limit: 1, limt: 2 } as never)).toThrow(
      /Unknown option `limt`/,
    );
  });

  it('defaults name to key and exposes limit, key and leaseMs', () => {
    const s = new RedisSemaphore({ redis, key: 'some-key', limit: 3 });
    expect(s.name).toBe('some-key');
    expect(s.limit).toBe(3);
    expect(s.key).toBe('some-key');
    expect(s.leaseMs).toBe(10_000);
    expect(s.failOpen).toBe(false);
    expect(new RedisSemaphore({ redis, key: 'k', limit: 1, name: 'api' }).name).toBe('api');
  });

  it('refuses a priority (FIFO only) and unknown acquire options', async () => {
    const s = semaphore();
    await expect(s.acquire({ priority: 5 })).rejects.toThrow(/`priority` is not supported/);
    await expect(s.acquire({ wait: 1 } as never)).rejects.toThrow(/Unknown option `wait`/);
    // priority 0 is the default, so it is accepted.
    (await s.acquire({ priority: 0 })).release();
  });
});

describe('state in Redis', () => {
  it('keeps leases, used units and the line under one hash tag', async () => {
    const s = semaphore({ limit: 3, leaseMs: 60_000 });
    const keys = redisKeys(s.key);
    const a = await s.acquire({ weight: 2 });
    expect(a.id).toMatch(/^[0-9a-f]{12}:2:[0-9a-z]+$/);
    const waiter = s.acquire({ weight: 2 });
    await vi.waitFor(async () => expect(await redis.zcard(keys.queue)).toBe(1));
    const [queued] = await redis.zrange(keys.queue, 0, '-1');
    // Holders and waiters both have a lease (a waiter's under '?' and its id); the waiter is also in the line.
    expect((await redis.zrange(keys.leases, 0, '-1')).sort()).toEqual([a.id, `?${queued}`].sort());
    expect(await redis.get(keys.used)).toBe('2');
    expect(await redis.get(keys.seq)).toBe('1');
    // Leases are on the Redis server's clock.
    const [seconds] = await redis.time();
    const expiry = Number(await redis.zscore(keys.leases, a.id));
    expect(expiry).toBeGreaterThan(Number(seconds) * 1000);
    expect(expiry).toBeLessThanOrEqual((Number(seconds) + 61) * 1000);
    a.release();
    (await waiter).release();
    await s.idle();
    // Idle: nothing is left behind.
    expect(await redis.exists(...Object.values(keys))).toBe(0);
  });

  it('serves the line in arrival order across connections (processes)', async () => {
    const key = uniqueKey('fifo');
    const here = new RedisSemaphore({ redis, key, limit: 1 });
    const there = new RedisSemaphore({ redis: other, key, limit: 1 });
    const keys = redisKeys(key);
    const holder = await here.acquire();
    const order: string[] = [];
    const line = [
      [there, 'there-1'],
      [here, 'here-2'],
      [there, 'there-3'],
      [here, 'here-4'],
    ] as const;
    const done: Array<Promise<void>> = [];
    for (const [limiter, label] of line) {
      const queued = await redis.zcard(keys.queue);
      done.push(
        limiter.acquire().then((permit) => {
          order.push(label);
          permit.release();
        }),
      );
      // Join one at a time, so the arrival order is known.
      await vi.waitFor(async () => expect(await redis.zcard(keys.queue)).toBe(queued + 1));
    }
    holder.release();
    await Promise.all(done);
    expect(order).toEqual(['there-1', 'here-2', 'there-3', 'here-4']);
    await Promise.all([here.close(), there.close()]);
    await Promise.all([here.idle(), there.idle()]);
  });

  it('admits a waiter whose grant message never arrived, at the next lease renewal', async () => {
    const s = semaphore({ limit: 1, leaseMs: 300 });
    const keys = redisKeys(s.key);
    // Someone else holds the only unit (a holder this process does not know).
    const [seconds] = await redis.time();
    const far = (Number(seconds) + 600) * 1000;
    await redis.multi().zadd(keys.leases, far, 'elsewhere:1:1').set(keys.used, '1').exec();
    const waiting = s.acquire();
    await vi.waitFor(async () => expect(await redis.zcard(keys.queue)).toBe(1));
    const [id] = await redis.zrange(keys.queue, 0, '0');
    // Grant it behind the library's back, without the PUBLISH: as if the message was lost.
    await redis
      .multi()
      .zrem(keys.leases, 'elsewhere:1:1', `?${id}`)
      .zadd(keys.leases, far, id as string)
      .zrem(keys.queue, id as string)
      .del(keys.seq)
      .exec();
    const permit = await waiting;
    expect(permit.id).toBe(id);
    permit.release();
  });
});

describe('keyPrefix', () => {
  it("applies the client's keyPrefix to the keys and the grant channel", async () => {
    const prefixed = await connect(undefined, { keyPrefix: 'prefixed-app:' });
    const key = uniqueKey('prefix');
    const s = new RedisSemaphore({ redis: prefixed, key, limit: 1 });
    const holder = await s.acquire();
    expect(await redis.zcard(`prefixed-app:${redisKeys(key).leases}`)).toBe(1);
    expect(await redis.exists(redisKeys(key).leases)).toBe(0);
    const waiter = s.acquire();
    await vi.waitFor(async () =>
      expect(await redis.zcard(`prefixed-app:${redisKeys(key).queue}`)).toBe(1),
    );
    holder.release();
    (await waiter).release();
    await s.close();
    await s.idle();
    await prefixed.quit();
  });
});

describe('one subscriber connection per client', () => {
  let server: RedisServer;
  let own: Redis;

  beforeAll(async () => {
    server = await startRedisServer(await freePort());
    own = await connect(server.url);
  });

  afterAll(async () => {
    await own.quit();
    await server.stop();
  });

  it('is shared by every RedisSemaphore on the client, and closed with the last of them', async () => {
    const limiters = ['a', 'b', 'c'].map(
      (k) => new RedisSemaphore({ redis: own, key: k, limit: 1 }),
    );
    const held = await Promise.all(limiters.map((l) => l.acquire()));
    const waiting = limiters.map((l) => l.acquire());
    const clients = async () =>
      String(await own.call('CLIENT', 'LIST'))
        .trim()
        .split('\n').length;
    await vi.waitFor(async () =>
      expect(((await own.pubsub('CHANNELS')) as string[]).length).toBe(3),
    );
    // The client itself and one subscriber for the three limiters.
    expect(await clients()).toBe(2);
    for (const p of held) p.release();
    for (const p of await Promise.all(waiting)) p.release();
    for (const l of limiters) {
      await l.close();
      await l.idle();
    }
    await vi.waitFor(async () => expect(await clients()).toBe(1));
  });
});

describe('errors', () => {
  it('rejects with doorman errors recognisable by code', async () => {
    const s = semaphore({ limit: 1, maxQueue: 0 });
    const p = await s.acquire();
    const error = await s.acquire().catch((e: unknown) => e);
    expect(isDoormanError(error, 'QUEUE_FULL')).toBe(true);
    p.release();
  });
});
