// Behind the Express adapter: two server processes share one RedisSemaphore
// limit of 4 through concurrencyLimit({ limiter }). 20 concurrent requests,
// split across both, all succeed, and never more than 4 handlers run at once
// in total (each handler INCRs a Redis key while it runs).
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, type Fixture, REDIS_URL, redisKeys, startFixture, uniqueKey } from './helpers.js';

const LIMIT = 4;
const key = uniqueKey('express');
const active = `${key}:active`;
let redis: Redis;
let servers: Fixture[] = [];
let ports: number[] = [];

beforeAll(async () => {
  redis = await connect();
  servers = [0, 1].map(() =>
    startFixture('server.ts', { REDIS_URL, KEY: key, LIMIT: String(LIMIT), ACTIVE: active }),
  );
  ports = await Promise.all(
    servers.map(async (s) => (await s.next('listening'))['port'] as number),
  );
}, 90_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await redis.del(active);
  await redis.quit();
});

describe('concurrencyLimit({ limiter: RedisSemaphore }) across two servers', () => {
  it('runs at most 4 handlers at once in total over 20 concurrent requests', async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await fetch(`http://127.0.0.1:${ports[i % 2]}/work`);
        return { status: res.status, body: (await res.json()) as { inside: number; pid: number } };
      }),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const inside = responses.map((r) => r.body.inside);
    expect(Math.max(...inside)).toBeLessThanOrEqual(LIMIT);
    expect(new Set(responses.map((r) => r.body.pid)).size).toBe(2);
    expect(await redis.get(active)).toBe('0');

    // Each server's numbers are its own; together they add up to the 20 requests.
    // (A permit is released when the response closes, which may follow the
    // client's read by a moment: wait for it.)
    const stats = () =>
      Promise.all(
        ports.map(async (port) => {
          const res = await fetch(`http://127.0.0.1:${port}/stats`);
          return (await res.json()) as {
            inUse: number;
            waiting: number;
            counters: { acquired: number; released: number };
          };
        }),
      );
    await vi.waitFor(async () => {
      const all = await stats();
      expect(all.reduce((sum, s) => sum + s.counters.acquired, 0)).toBe(20);
      expect(all.reduce((sum, s) => sum + s.counters.released, 0)).toBe(20);
      expect(all.map((s) => s.inUse + s.waiting)).toEqual([0, 0]);
    });
    await vi.waitFor(async () =>
      expect(await redis.exists(...Object.values(redisKeys(key)))).toBe(0),
    );
  });
});
