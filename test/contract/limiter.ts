import { randomBytes } from 'node:crypto';
import { AdaptiveSemaphore, type LimitAlgorithm } from '@doorman/adaptive';
import { RedisSemaphore } from '@doorman/redis';
import { Semaphore } from '@doorman/semaphore';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { RecordingLimiter, waitUntil } from '../kit/index.js';
import type { Harness } from './harness.js';
import { rejected, rejection, send } from './requests.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A given `limiter` (shared, maybe unbounded itself) still gets the middleware's bounded line. */
export function givenLimiter(t: Harness): void {
  it('with an AdaptiveSemaphore: admits by its moving limit, and each release is a sample with the outcome', async () => {
    const stage = t.stage();
    // An algorithm that hears every sample, and drops the limit to 1 on the first 5xx.
    const heard: boolean[] = [];
    const algorithm: LimitAlgorithm = {
      name: 'heard',
      create: (bounds) => {
        let limit = bounds.initialLimit;
        return {
          onSample(_rttMs, _inFlight, dropped) {
            heard.push(dropped);
            if (dropped) limit = 1;
            return limit;
          },
        };
      },
    };
    const adaptive = new AdaptiveSemaphore({ initialLimit: 4, algorithm });
    const shared = new RecordingLimiter(adaptive);
    const b = await t.build(
      { limiter: shared },
      {
        routes: {
          '/ok': { kind: 'respond' },
          '/fail': { kind: 'respond', status: 500 },
          '/x': { kind: 'hold', stage },
        },
      },
    );
    expect((await send(b, '/ok', 'ok').reply).status).toBe(200);
    expect((await send(b, '/fail', 'fail').reply).status).toBe(500);
    await waitUntil(() => heard.length === 2, 'two samples');
    expect(heard).toEqual([false, true]);
    expect(adaptive.limit).toBe(1);
    // The limit it lowered is the one the middleware admits by: a second request waits.
    const held = send(b, '/x', 'held');
    await stage.reached(1);
    const next = send(b, '/x', 'next');
    await waitUntil(() => adaptive.waiting === 1, 'the second waits');
    expect(adaptive.inUse).toBe(1);
    stage.openAll();
    expect((await held.reply).status).toBe(200);
    expect((await next.reply).status).toBe(200);
    await waitUntil(() => adaptive.inUse === 0, 'all released');
    expect(shared.outcomes()).toEqual(['success', 'dropped', 'success', 'success']);
    await adaptive.close();
  });

  it('with a shared Semaphore, maxQueue bounds the middleware’s own line and queueTimeoutMs applies', async () => {
    const stage = t.stage();
    // Unbounded and without a timeout on its own, as a bare Semaphore is.
    const shared = new RecordingLimiter(new Semaphore({ limit: 1 }));
    const b = await t.build(
      { limiter: shared, maxQueue: 2, queueTimeoutMs: 20 },
      { routes: { '/x': { kind: 'hold', stage } } },
    );
    const held = send(b, '/x', 'held');
    await stage.reached(1);
    const line = ['q1', 'q2'].map((id) => send(b, '/x', id));
    await waitUntil(() => shared.waiting === 2, 'two wait');
    expect(rejection(await send(b, '/x', 'third').reply)).toEqual(rejected('QUEUE_FULL'));
    for (const reply of await Promise.all(line.map((c) => c.reply))) {
      expect(rejection(reply)).toEqual(rejected('QUEUE_TIMEOUT'));
    }
    expect(shared.acquires.map((options) => options?.timeoutMs)).toEqual([20, 20]);
    stage.openAll();
    expect((await held.reply).status).toBe(200);
    expect(stage.labels).toEqual(['held']);
  });

  it('with a shared Semaphore and no maxQueue or queueTimeoutMs: the defaults, 100 and 5000 ms', async () => {
    const stage = t.stage();
    const shared = new RecordingLimiter(new Semaphore({ limit: 1 }));
    const b = await t.build({ limiter: shared }, { routes: { '/x': { kind: 'hold', stage } } });
    const held = send(b, '/x', 'held');
    await stage.reached(1);
    const line = Array.from({ length: 100 }, (_, i) => send(b, '/x', `q${i}`));
    await waitUntil(() => shared.waiting === 100, 'a hundred wait', { seen: () => shared.waiting });
    const extra = send(b, '/x', 'one too many');
    await waitUntil(() => b.closed.has('one too many'), 'the 101st request is answered', {
      seen: () => ({ waiting: shared.waiting }),
    });
    expect(rejection(await extra.reply)).toEqual(rejected('QUEUE_FULL'));
    expect(new Set(shared.acquires.map((options) => options?.timeoutMs))).toEqual(new Set([5000]));
    stage.openAll();
    for (const reply of await Promise.all([held, ...line].map((c) => c.reply))) {
      expect(reply.status).toBe(200);
    }
  });

  it("refuses a keyed middleware's limiter as `limiter`, at construction (TypeError naming it)", async () => {
    const keyed = await t.build(
      { limit: 2, key: () => 'tenant' },
      { routes: { '/x': { kind: 'respond' } } },
    );
    await expect(
      t.build({ limiter: keyed.limiter }, { routes: { '/x': { kind: 'respond' } } }),
    ).rejects.toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('`limiter`') }),
    );
  });

  it('with a RedisSemaphore, maxQueue bounds the middleware’s own line and queueTimeoutMs applies', async () => {
    const stage = t.stage();
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect();
    const limiter = new RedisSemaphore({
      redis,
      key: `test-contract-${randomBytes(5).toString('hex')}`,
      limit: 1,
    });
    try {
      const b = await t.build(
        { limiter, maxQueue: 1, queueTimeoutMs: 100 },
        { routes: { '/x': { kind: 'hold', stage } } },
      );
      const held = send(b, '/x', 'held');
      await stage.reached(1);
      const queued = send(b, '/x', 'queued');
      await waitUntil(() => limiter.waiting === 1, 'one waits');
      expect(rejection(await send(b, '/x', 'second in line').reply)).toEqual(
        rejected('QUEUE_FULL'),
      );
      expect(rejection(await queued.reply)).toEqual(rejected('QUEUE_TIMEOUT'));
      stage.openAll();
      expect((await held.reply).status).toBe(200);
      await waitUntil(() => limiter.inUse === 0, 'the permit is back');
      expect(stage.labels).toEqual(['held']);
    } finally {
      await limiter.close();
      await redis.quit();
    }
  });
}
