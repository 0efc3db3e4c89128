// The distributed counters end to end: a RedisSemaphore on a real Redis (its
// own redis-server, stopped to make it unreachable), a real prom-client
// registry, scraped as Prometheus text. A lost lease and a fail-open
// admission each show up once, under the limiter that had them, and a plain
// Semaphore on the same registry gets no such series.
import { registerMetrics } from '@doorman/prometheus';
import { type RedisPermit, RedisSemaphore } from '@doorman/redis';
import { Semaphore } from '@doorman/semaphore';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  connect,
  freePort,
  type RedisServer,
  redisKeys,
  startRedisServer,
} from '../packages/redis/test/helpers.js';

let server: RedisServer;
let redis: Redis;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer(await freePort());
  const options = { retryStrategy: () => 50, maxRetriesPerRequest: 1 };
  redis = await connect(server.url, options);
  admin = await connect(server.url, options);
  redis.on('error', () => {});
  admin.on('error', () => {});
});

afterAll(async () => {
  redis.disconnect();
  admin.disconnect();
  await server.stop();
});

/** The value of each `name{limiter="..."}` sample in a Prometheus text scrape. */
async function scrape(registry: Registry, name: string): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  for (const line of (await registry.metrics()).split('\n')) {
    const match = /^(\w+)\{limiter="([^"]+)"\} (\S+)$/.exec(line);
    if (match?.[1] === name) found[match[2] as string] = Number(match[3]);
  }
  return found;
}

describe('doorman_leases_lost_total and doorman_fail_open_total', () => {
  it('count lost leases and fail-open admissions of Redis limiters, and only theirs', async () => {
    const registry = new Registry();
    const lost: RedisPermit[] = [];
    const strict = new RedisSemaphore({
      redis,
      key: 'metrics-strict',
      limit: 2,
      leaseMs: 300,
      onLeaseLost: (p) => lost.push(p),
    });
    const lenient = new RedisSemaphore({
      redis,
      key: 'metrics-lenient',
      limit: 2,
      failOpen: true,
      unavailableAfterMs: 200,
    });
    const plain = new Semaphore({ limit: 1, name: 'plain' });
    const unregister = registerMetrics([strict, lenient, plain], { registry });

    expect(await scrape(registry, 'doorman_leases_lost_total')).toEqual({
      'metrics-strict': 0,
      'metrics-lenient': 0,
    });
    expect(await scrape(registry, 'doorman_fail_open_total')).toEqual({
      'metrics-strict': 0,
      'metrics-lenient': 0,
    });

    // Redis loses the holders (as an allkeys-* eviction would): the next
    // renewal finds the permit gone.
    const permit = await strict.acquire();
    await admin.del(redisKeys('metrics-strict').leases);
    await vi.waitFor(() => expect(lost).toEqual([permit]));
    permit.release();
    expect((await scrape(registry, 'doorman_leases_lost_total'))['metrics-strict']).toBe(1);

    // Redis goes away: the lenient limiter admits without it, the strict one refuses.
    await server.stop();
    await vi.waitFor(() => expect(redis.status).not.toBe('ready'));
    const local = await lenient.acquire();
    expect(local.local).toBe(true);
    local.release();
    await expect(strict.acquire()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await scrape(registry, 'doorman_fail_open_total')).toEqual({
      'metrics-strict': 0,
      'metrics-lenient': 1,
    });
    expect(await scrape(registry, 'doorman_leases_lost_total')).toEqual({
      'metrics-strict': 1,
      'metrics-lenient': 0,
    });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE doorman_leases_lost_total counter');
    expect(text).not.toMatch(/doorman_(leases_lost|fail_open)_total\{limiter="plain"/);
    expect(await scrape(registry, 'doorman_acquired_total')).toMatchObject({ plain: 0 });

    unregister();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    await Promise.all([strict.close(), lenient.close()]);
  });
});
