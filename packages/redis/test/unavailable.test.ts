// Redis unreachable: its own redis-server on a free port, stopped and
// restarted on the same port. acquire rejects UNAVAILABLE in bounded time
// (at once while the client is reconnecting, after `unavailableAfterMs` when
// a command is not answered), admits with failOpen, and works again once
// Redis is back, with no manual step.
import { type RedisPermit, RedisSemaphore } from '@doorman/redis';
import { isDoormanError } from '@doorman/semaphore';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, freePort, type RedisServer, redisKeys, startRedisServer } from './helpers.js';

let port: number;
let server: RedisServer;
let redis: Redis;
let admin: Redis;
const lost: RedisPermit[] = [];
let strict: RedisSemaphore;
let lenient: RedisSemaphore;

beforeAll(async () => {
  port = await freePort();
  server = await startRedisServer(port);
  const options = { retryStrategy: () => 50, maxRetriesPerRequest: 1 };
  redis = await connect(server.url, options);
  admin = await connect(server.url, options);
  admin.on('error', () => {});
  redis.on('error', () => {});
  strict = new RedisSemaphore({
    redis,
    key: 'strict',
    limit: 2,
    leaseMs: 600,
    unavailableAfterMs: 300,
    onLeaseLost: (permit) => lost.push(permit),
  });
  lenient = new RedisSemaphore({
    redis,
    key: 'lenient',
    limit: 1,
    unavailableAfterMs: 300,
    failOpen: true,
  });
});

afterAll(async () => {
  for (const s of [strict, lenient]) {
    await s.close();
    await s.idle();
  }
  redis.disconnect();
  admin.disconnect();
  await server.stop();
});

const code = (error: unknown) => (isDoormanError(error) ? error.code : error);

describe('Redis unreachable', () => {
  it('rejects UNAVAILABLE when a command is not answered within unavailableAfterMs, and leaves no trace', async () => {
    (await strict.acquire()).release(); // connected and subscribed
    // A paused server keeps the connection open but answers nothing.
    await admin.client('PAUSE', 1500, 'ALL');
    const error = await strict.acquire().catch((e: unknown) => e);
    expect(code(error)).toBe('UNAVAILABLE');
    expect(strict.counters.rejected.unavailable).toBe(1);
    expect(strict.waiting).toBe(0);
    // Once the server answers again, the late acquire is undone: no holder is left over.
    // (The PING's answer follows the acquire's on the same connection; by then the
    // undo is on its way, and idle() waits for it.)
    await redis.ping();
    await strict.idle();
    const keys = redisKeys('strict');
    expect(await admin.exists(keys.used, keys.leases, keys.queue)).toBe(0);
    (await strict.acquire()).release();
  });

  it('rejects UNAVAILABLE at once while Redis is down, admits with failOpen, and recovers when it is back', async () => {
    const kept = await strict.acquire();
    await server.stop();
    await vi.waitFor(() => expect(redis.status).not.toBe('ready'));

    const error = await strict.acquire().catch((e: unknown) => e);
    expect(code(error)).toBe('UNAVAILABLE');
    expect((error as Error).message).toContain('strict');

    const local = await lenient.acquire();
    expect(local.local).toBe(true);
    expect(lenient.inUse).toBe(1);
    local.release();
    expect(lenient.inUse).toBe(0);
    expect(lenient.counters.rejected.unavailable).toBe(0);
    expect(lenient.counters.failOpen).toBe(1);
    expect(strict.counters.failOpen).toBe(0);

    // The held permit's lease cannot be renewed: it is flagged lost, not thrown.
    await vi.waitFor(() => expect(lost).toContain(kept), { timeout: 5000 });
    expect(kept.lost).toBe(true);
    expect(strict.counters.leasesLost).toBe(1);
    expect(kept.signal.aborted).toBe(true);
    expect((kept.signal.reason as { code?: string }).code).toBe('LEASE_LOST');

    server = await startRedisServer(port);
    await vi.waitFor(
      async () => {
        const permit = await strict.acquire();
        permit.release();
      },
      { timeout: 10_000, interval: 50 },
    );
    kept.release();
    expect(strict.inUse).toBe(0);
    const permit = await lenient.acquire();
    expect(permit.local).toBe(false);
    permit.release();
    // Waiting and pub/sub hand-off work again too.
    const a = await strict.acquire();
    const b = await strict.acquire();
    const c = strict.acquire();
    a.release();
    (await c).release();
    b.release();
    await strict.idle();
  });
});
