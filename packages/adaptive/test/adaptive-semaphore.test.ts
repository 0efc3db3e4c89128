import {
  AdaptiveSemaphore,
  createGradient2,
  type LimitAlgorithm,
  type LimitController,
} from '@doorman/adaptive';
import { isDoormanError, type Permit } from '@doorman/semaphore';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type Sample = [rttMs: number, inFlight: number, dropped: boolean, nowMs: number];

/** An algorithm that records what it hears and answers with `answer()`. */
function recorder(answer: (limit: number) => number = (limit) => limit) {
  const samples: Sample[] = [];
  let limit = 0;
  const algorithm: LimitAlgorithm = {
    name: 'recorder',
    create(bounds) {
      limit = bounds.initialLimit;
      const controller: LimitController = {
        onSample(rttMs, inFlight, dropped, nowMs) {
          samples.push([rttMs, inFlight, dropped, nowMs]);
          limit = answer(limit);
          return limit;
        },
      };
      return controller;
    },
  };
  return { algorithm, samples };
}

// Hold times come from performance.now(): the fake clock makes them exact.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('AdaptiveSemaphore: samples', () => {
  it('hands the algorithm each release: hold time, units in flight at admission, and whether it dropped', async () => {
    const { algorithm, samples } = recorder();
    const limiter = new AdaptiveSemaphore({ initialLimit: 5, algorithm });
    const a = await limiter.acquire();
    vi.advanceTimersByTime(10);
    const b = await limiter.acquire({ weight: 2 });
    vi.advanceTimersByTime(30);
    a.release();
    b.release('dropped');
    expect(samples.map(([rtt, inFlight, dropped]) => [rtt, inFlight, dropped])).toEqual([
      [40, 1, false],
      [30, 3, true],
    ]);
    expect(samples[1]?.[3]).toBe(samples[0]?.[3]); // both released at the same instant
  });

  it("run releases as 'success' when the work fulfils and as 'dropped' when it throws or rejects", async () => {
    const { algorithm, samples } = recorder();
    const limiter = new AdaptiveSemaphore({ initialLimit: 2, algorithm });
    expect(await limiter.run(() => 'sung')).toBe('sung');
    await expect(
      limiter.run(() => {
        throw new Error('flat');
      }),
    ).rejects.toThrow('flat');
    await expect(limiter.run(async () => Promise.reject(new Error('late')))).rejects.toThrow(
      'late',
    );
    expect(samples.map(([, , dropped]) => dropped)).toEqual([false, true, true]);
    expect(limiter.inUse).toBe(0);
  });

  it("takes no sample from an 'ignored' release, yet gives its units back", async () => {
    const { algorithm, samples } = recorder((limit) => limit + 1);
    const limiter = new AdaptiveSemaphore({ initialLimit: 2, algorithm });
    const permit = await limiter.acquire();
    vi.advanceTimersByTime(5_000);
    permit.release('ignored');
    expect(samples).toEqual([]);
    expect(limiter.limit).toBe(2);
    expect(limiter.inUse).toBe(0);
  });

  it("keeps gradient2's limit through a flood of slow 'ignored' releases", async () => {
    const limiter = new AdaptiveSemaphore({ initialLimit: 10 });
    for (let round = 0; round < 50; round++) {
      const permits = [...Array(10)].map(() => limiter.tryAcquire() as Permit);
      vi.advanceTimersByTime(round % 2 === 0 ? 20 : 2_000);
      for (const p of permits) p.release('ignored');
    }
    expect(limiter.limit).toBe(10);
    expect(limiter.minLatencyMs).toBeUndefined();
  });

  it("lowers gradient2's limit on 'dropped' releases, down to minLimit and no further", async () => {
    const limiter = new AdaptiveSemaphore({ initialLimit: 40, minLimit: 3, maxLimit: 40 });
    const seen: number[] = [];
    for (let round = 0; round < 200; round++) {
      const permits: Permit[] = [];
      for (let p = limiter.tryAcquire(); p !== undefined; p = limiter.tryAcquire()) permits.push(p);
      vi.advanceTimersByTime(20);
      for (const p of permits) p.release('dropped');
      seen.push(limiter.limit);
    }
    expect(Math.min(...seen)).toBe(3);
    expect(seen.every((limit) => limit >= 3 && limit <= 40)).toBe(true);
    expect(limiter.limit).toBe(3);
  });

  it('finds the knee of a service through its permits: grows while latency is flat, comes down past it', async () => {
    // Every round fills the limit, then holds each permit for the service
    // time of that crowd: 20 ms up to 12 in flight, then (n / 12)^2 times more.
    const limiter = new AdaptiveSemaphore({ initialLimit: 4, maxLimit: 200 });
    const limits: number[] = [];
    for (let round = 0; round < 400; round++) {
      const permits: Permit[] = [];
      for (let p = limiter.tryAcquire(); p !== undefined; p = limiter.tryAcquire()) permits.push(p);
      vi.advanceTimersByTime(20 * Math.max(1, (permits.length / 12) ** 2));
      for (const p of permits) p.release();
      limits.push(limiter.limit);
    }
    expect(Math.max(...limits.slice(0, 100))).toBeGreaterThanOrEqual(12);
    const late = limits.slice(300);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(6); // a re-measure at half the limit
    expect(Math.max(...late)).toBeLessThanOrEqual(14);
    expect(limiter.minLatencyMs).toBe(20);
    expect(limiter.latencyMs).toBeGreaterThanOrEqual(20);
  });
});

describe('AdaptiveSemaphore: the limit it sets', () => {
  it('rounds the algorithm answer and keeps it inside [minLimit, maxLimit]; NaN leaves it', async () => {
    const answers = [2.6, 1e9, -5, Number.NaN, Number.POSITIVE_INFINITY, 7.4];
    const { algorithm } = recorder(() => answers.shift() as number);
    const limiter = new AdaptiveSemaphore({
      initialLimit: 5,
      minLimit: 2,
      maxLimit: 50,
      algorithm,
    });
    const limits: number[] = [];
    for (let i = 0; i < 6; i++) {
      (await limiter.acquire()).release();
      limits.push(limiter.limit);
    }
    expect(limits).toEqual([3, 50, 2, 2, 50, 7]);
  });

  it('takes nothing back when the limit comes down: holders keep their units, nobody is admitted until below it', async () => {
    const { algorithm } = recorder(() => 2);
    const limiter = new AdaptiveSemaphore({ initialLimit: 4, algorithm });
    const held = await Promise.all([...Array(4)].map(() => limiter.acquire()));
    const waiter = limiter.acquire();
    let admitted = false;
    void waiter.then(() => {
      admitted = true;
    });
    held[0]?.release(); // the limit drops to 2 with 3 still held
    await Promise.resolve();
    expect(limiter.limit).toBe(2);
    expect(limiter.inUse).toBe(3);
    held[1]?.release();
    held[2]?.release();
    await vi.waitFor(() => expect(admitted).toBe(true));
    expect(limiter.inUse).toBe(2);
    held[3]?.release();
    (await waiter).release();
    expect(limiter.inUse).toBe(0);
  });

  it('admits waiters at once when the limit goes up', async () => {
    const { algorithm } = recorder(() => 3);
    const limiter = new AdaptiveSemaphore({ initialLimit: 1, algorithm });
    const first = await limiter.acquire();
    const waiting = [limiter.acquire(), limiter.acquire(), limiter.acquire()];
    first.release(); // the limit becomes 3: all three fit
    const permits = await Promise.all(waiting);
    expect(limiter.inUse).toBe(3);
    for (const p of permits) p.release();
  });

  it('survives an algorithm that throws: the permit goes back, the limit stays, one warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const algorithm: LimitAlgorithm = {
        name: 'broken',
        create: () => ({
          onSample() {
            throw new Error('boom');
          },
        }),
      };
      const limiter = new AdaptiveSemaphore({ initialLimit: 3, algorithm, name: 'api' });
      (await limiter.acquire()).release();
      (await limiter.acquire()).release();
      expect(limiter.inUse).toBe(0);
      expect(limiter.limit).toBe(3);
      vi.useRealTimers();
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([
        'the broken algorithm of limiter "api" threw; its limit stays at 3: boom',
      ]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('gives the units back, then throws a TypeError, on an unknown outcome', async () => {
    const { algorithm, samples } = recorder();
    const limiter = new AdaptiveSemaphore({ initialLimit: 1, algorithm });
    const permit = await limiter.acquire();
    expect(() => permit.release('failed' as never)).toThrow(
      new TypeError(
        "Expected `outcome` to be 'success' or 'dropped' or 'ignored', got `'failed'` (string)",
      ),
    );
    expect(permit.released).toBe(true);
    expect(limiter.inUse).toBe(0);
    expect(samples).toEqual([]);
    permit.release('failed' as never); // a second release does nothing, not even throw
  });
});

describe('AdaptiveSemaphore: a semaphore like the core one', () => {
  it('serves the newest waiter first with order lifo, and a higher priority before both', async () => {
    const limiter = new AdaptiveSemaphore({
      initialLimit: 1,
      minLimit: 1,
      maxLimit: 1,
      order: 'lifo',
    });
    const holder = await limiter.acquire();
    const served: string[] = [];
    const wait = (label: string, priority = 0) =>
      limiter.acquire({ priority }).then((p) => {
        served.push(label);
        p.release();
      });
    const all = [wait('old'), wait('new'), wait('urgent', 5)];
    holder.release();
    await Promise.all(all);
    expect(served).toEqual(['urgent', 'new', 'old']);
  });

  it('bounds its queue (maxQueue) and its waits (queueTimeoutMs)', async () => {
    const limiter = new AdaptiveSemaphore({ initialLimit: 1, maxQueue: 1, queueTimeoutMs: 50 });
    const holder = await limiter.acquire();
    const waiter = limiter.acquire().catch((e: unknown) => e);
    const full = await limiter.acquire().catch((e: unknown) => e);
    expect(isDoormanError(full, 'QUEUE_FULL')).toBe(true);
    vi.advanceTimersByTime(50);
    expect(isDoormanError(await waiter, 'QUEUE_TIMEOUT')).toBe(true);
    expect(limiter.counters.rejected).toMatchObject({ queue_full: 1, timeout: 1 });
    holder.release();
  });

  it('tryAcquire admits only when free and nobody waits', async () => {
    const limiter = new AdaptiveSemaphore({ initialLimit: 2 });
    const a = limiter.tryAcquire(2);
    expect(a?.weight).toBe(2);
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.available).toBe(0);
    a?.[Symbol.dispose]();
    expect(limiter.available).toBe(2);
  });

  it('closes like the core: waiters rejected, holders release later, idle() resolves after', async () => {
    const limiter = new AdaptiveSemaphore({ initialLimit: 1, name: 'api' });
    const holder = await limiter.acquire();
    const waiter = limiter.acquire().catch((e: unknown) => e);
    await limiter[Symbol.asyncDispose]();
    expect(limiter.isClosed).toBe(true);
    expect(isDoormanError(await waiter, 'CLOSED')).toBe(true);
    let idle = false;
    void limiter.idle().then(() => {
      idle = true;
    });
    await Promise.resolve();
    expect(idle).toBe(false);
    holder.release();
    await vi.waitFor(() => expect(idle).toBe(true));
  });
});

describe('AdaptiveSemaphore: options', () => {
  it('has defaults: limit 20 in [1, 1000], gradient2, named adaptive', () => {
    const limiter = new AdaptiveSemaphore();
    expect([limiter.limit, limiter.minLimit, limiter.maxLimit]).toEqual([20, 1, 1000]);
    expect(limiter.algorithm).toBe('gradient2');
    expect(limiter.name).toBe('adaptive');
    expect(new AdaptiveSemaphore({ maxLimit: 8 }).limit).toBe(8);
    expect(new AdaptiveSemaphore({ minLimit: 30 }).limit).toBe(30);
    expect(new AdaptiveSemaphore({ algorithm: 'vegas' }).algorithm).toBe('vegas');
    expect(
      new AdaptiveSemaphore({ algorithm: createGradient2({ tolerance: 1.5 }) }).algorithm,
    ).toBe('gradient2');
  });

  it('rejects wrong options at construction, naming the option and the value', () => {
    const make = (options: unknown) => () => new AdaptiveSemaphore(options as never);
    expect(make({ minLimit: 0 })).toThrow(
      new RangeError('Expected `minLimit` to be an integer >= 1, got `0` (number)'),
    );
    expect(make({ minLimit: 5, maxLimit: 4 })).toThrow(
      new RangeError('Expected `maxLimit` to be an integer >= 5, got `4` (number)'),
    );
    expect(make({ initialLimit: 0 })).toThrow(
      new RangeError(
        'Expected `initialLimit` to be an integer from minLimit (1) to maxLimit (1000), got `0` (number)',
      ),
    );
    expect(make({ initialLimit: '5' })).toThrow(TypeError);
    expect(make({ maxLimit: 2.5 })).toThrow(RangeError);
    expect(make({ algorithm: 'bbr' })).toThrow(
      new RangeError(
        "Expected `algorithm` to be 'gradient2' or 'aimd' or 'vegas', got `'bbr'` (string)",
      ),
    );
    expect(make({ algorithm: { name: 'x' } })).toThrow(
      /Expected `algorithm` to be 'gradient2' or 'aimd' or 'vegas' or an object \{ name, create\(bounds\) \}/,
    );
    expect(make({ algorithm: { name: 'x', create: () => ({}) } })).toThrow(
      new TypeError(
        'Expected `algorithm.create()` to return an object with an `onSample` method, got `{}` (object)',
      ),
    );
    expect(make({ maxQueue: -1 })).toThrow(
      new RangeError('Expected `maxQueue` to be an integer >= 0 or Infinity, got `-1` (number)'),
    );
    expect(make({ queueTimeoutMs: 0 })).toThrow(RangeError);
    expect(make({ order: 'random' })).toThrow(RangeError);
    expect(make({ name: '' })).toThrow(RangeError);
    expect(make({ limit: 5 })).toThrow(/Unknown option `limit` in AdaptiveSemaphore options/);
    expect(make('fast')).toThrow(TypeError);
  });
});
