// A process that dies holding permits loses them after its lease: SIGKILL a
// process holding 5 permits (lease 1000 ms), and the others get all 5 within
// leaseMs + 1 s. The bound is the waiters' own queue timeout: a waiter not
// admitted in time rejects with QUEUE_TIMEOUT and fails the test.
import { RedisSemaphore } from '@doorman/redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Fixture, REDIS_URL, redisKeys, startFixture, uniqueKey } from './helpers.js';

const LEASE_MS = 1000;
const LIMIT = 5;
const key = uniqueKey('crash');
let redis: Redis;
let holder: Fixture;
let survivor: RedisSemaphore;

beforeAll(async () => {
  redis = await connect();
  survivor = new RedisSemaphore({ redis, key, limit: LIMIT, leaseMs: LEASE_MS });
  holder = startFixture('holder.ts', {
    REDIS_URL,
    KEY: key,
    LIMIT: String(LIMIT),
    LEASE_MS: String(LEASE_MS),
    COUNT: String(LIMIT),
  });
}, 90_000);

afterAll(async () => {
  await holder.kill('SIGKILL');
  await survivor.close();
  await survivor.idle();
  await redis.quit();
});

describe('a holder that crashes', () => {
  it('loses its permits to the others within leaseMs + 1 s', async () => {
    const { ids } = (await holder.next('held')) as unknown as { ids: string[] };
    expect(ids).toHaveLength(LIMIT);
    const keys = redisKeys(key);
    expect(await redis.get(keys.used)).toBe(String(LIMIT));
    // While it lives, it renews: nobody else gets in.
    const early = await survivor.acquire({ timeoutMs: LEASE_MS * 2 }).catch((e: unknown) => e);
    expect((early as { code?: string }).code).toBe('QUEUE_TIMEOUT');

    await holder.kill('SIGKILL');
    const permits = await Promise.all(
      Array.from({ length: LIMIT }, () => survivor.acquire({ timeoutMs: LEASE_MS + 1000 })),
    );
    expect(survivor.inUse).toBe(LIMIT);
    const holders = await redis.zrange(keys.leases, 0, '-1');
    expect(holders.sort()).toEqual(permits.map((p) => p.id).sort());
    for (const p of permits) p.release();
    await survivor.idle();
    expect(await redis.exists(...Object.values(keys))).toBe(0);
  });
});
