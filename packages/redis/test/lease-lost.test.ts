// A permit whose lease is lost (its process stalled past the lease, Redis
// lost the state, someone deleted it) is flagged and reported through
// onLeaseLost, never as an unhandled rejection; its release stays harmless.
import { type RedisPermit, RedisSemaphore } from '@doorman/redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, redisKeys, uniqueKey } from './helpers.js';

let redis: Redis;
let other: Redis;
const made: RedisSemaphore[] = [];

beforeAll(async () => {
  redis = await connect();
  other = await connect();
});

afterAll(async () => {
  for (const s of made) {
    await s.close();
    await s.idle();
  }
  await redis.quit();
  await other.quit();
});

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('lost leases', () => {
  it('flags a permit removed from Redis behind its back and reports it once', async () => {
    const lost: RedisPermit[] = [];
    const key = uniqueKey('lost');
    const s = new RedisSemaphore({
      redis,
      key,
      limit: 2,
      leaseMs: 300,
      onLeaseLost: (p) => lost.push(p),
    });
    made.push(s);
    const keep = await s.acquire();
    const victim = await s.acquire();
    const aborted = new Promise((resolve) => victim.signal.addEventListener('abort', resolve));
    const keys = redisKeys(key);
    await redis.multi().zrem(keys.leases, victim.id).decrby(keys.used, 1).exec();
    await vi.waitFor(() => expect(lost).toEqual([victim]));
    await aborted;
    expect(victim.lost).toBe(true);
    expect(victim.released).toBe(false);
    expect(keep.lost).toBe(false);
    // Still counted here until the holder gives it back; the release is harmless.
    expect(s.inUse).toBe(2);
    victim.release();
    victim.release();
    expect(s.inUse).toBe(1);
    expect(await redis.get(keys.used)).toBe('1');
    // Renewals go on for the permit that was not lost.
    const before = Number(await redis.zscore(keys.leases, keep.id));
    await vi.waitFor(async () =>
      expect(Number(await redis.zscore(keys.leases, keep.id))).toBeGreaterThan(before),
    );
    expect(keep.lost).toBe(false);
    keep.release();
    await s.idle();
    expect(lost).toHaveLength(1);
    expect(unhandled).toEqual([]);
  });

  it('reclaims an expired lease for the next waiter and flags the old holder', async () => {
    const lost: RedisPermit[] = [];
    const key = uniqueKey('expired');
    const stalled = new RedisSemaphore({
      redis,
      key,
      limit: 1,
      leaseMs: 300,
      onLeaseLost: (p) => lost.push(p),
    });
    const next = new RedisSemaphore({ redis: other, key, limit: 1 });
    made.push(stalled, next);
    const old = await stalled.acquire();
    const keys = redisKeys(key);
    const waiting = next.acquire();
    await vi.waitFor(async () => expect(await redis.zcard(keys.queue)).toBe(1));
    // As if its process had stalled past the lease: the expiry is in the past
    // on the Redis clock. The next script run anywhere (here: a renewal)
    // reclaims it and grants the head of the line.
    await redis.zadd(keys.leases, 1, old.id);
    const heldByNext = await waiting;
    expect(heldByNext.id).not.toBe(old.id);
    expect(await redis.zrange(keys.leases, 0, '-1')).toEqual([heldByNext.id]);
    // The stalled process learns it at its next renewal.
    await vi.waitFor(() => expect(lost).toEqual([old]));
    old.release();
    heldByNext.release();
    expect(unhandled).toEqual([]);
  });

  it('turns an exception thrown by onLeaseLost into a process warning', async () => {
    const key = uniqueKey('throws');
    const s = new RedisSemaphore({
      redis,
      key,
      limit: 1,
      leaseMs: 300,
      onLeaseLost: () => {
        throw new Error('hook failed');
      },
    });
    made.push(s);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const p = await s.acquire();
    await redis.del(...Object.values(redisKeys(key)));
    await vi.waitFor(() => expect(p.lost).toBe(true));
    await vi.waitFor(() => expect(warnings.map((w) => w.message).join()).toContain('hook failed'));
    process.off('warning', onWarning);
    p.release();
    expect(unhandled).toEqual([]);
  });
});
