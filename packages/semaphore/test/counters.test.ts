import { type Permit, Semaphore } from '@doorman/semaphore';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flush, track } from './helpers.js';

beforeEach(() => {
  // Fakes setTimeout and also performance.now, which the wait times are measured with.
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('counters', () => {
  it('start at zero for every reason', () => {
    const sem = new Semaphore({ limit: 1 });
    expect(sem.counters).toEqual({
      acquired: 0,
      released: 0,
      rejected: { queue_full: 0, timeout: 0, aborted: 0, closed: 0, unavailable: 0 },
    });
  });

  it('count immediate, queued and tryAcquire grants as acquired, and each release once', async () => {
    const sem = new Semaphore({ limit: 1 });
    const first = await sem.acquire();
    const queued = track(sem.acquire());
    expect(sem.counters.acquired).toBe(1);
    first.release();
    first.release();
    await flush();
    expect(sem.counters).toMatchObject({ acquired: 2, released: 1 });
    queued.result.release();
    sem.tryAcquire()?.release();
    expect(sem.counters).toMatchObject({ acquired: 3, released: 3 });
  });

  it('count a queue_full rejection', async () => {
    const sem = new Semaphore({ limit: 1, maxQueue: 0 });
    await sem.acquire();
    await expect(sem.acquire()).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    expect(sem.counters.rejected.queue_full).toBe(1);
  });

  it('count a timeout rejection', async () => {
    const sem = new Semaphore({ limit: 1, queueTimeoutMs: 5 });
    await sem.acquire();
    const waiter = track(sem.acquire());
    vi.advanceTimersByTime(5);
    await flush();
    expect(waiter.state).toBe('rejected');
    expect(sem.counters.rejected.timeout).toBe(1);
  });

  it('count aborted rejections, before and while queued', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    await expect(sem.acquire({ signal: AbortSignal.abort() })).rejects.toBeDefined();
    const controller = new AbortController();
    const waiter = track(sem.acquire({ signal: controller.signal }));
    controller.abort();
    await flush();
    expect(waiter.state).toBe('rejected');
    expect(sem.counters.rejected.aborted).toBe(2);
  });

  it('count closed rejections, of waiters and of later acquires', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const waiters = [track(sem.acquire()), track(sem.acquire())];
    await sem.close();
    await expect(sem.acquire()).rejects.toMatchObject({ code: 'CLOSED' });
    await flush();
    expect(waiters.every((w) => w.state === 'rejected')).toBe(true);
    expect(sem.counters.rejected.closed).toBe(3);
  });

  it('never count `unavailable` for an in-process semaphore', async () => {
    const sem = new Semaphore({ limit: 1, maxQueue: 1, queueTimeoutMs: 5 });
    await sem.acquire();
    track(sem.acquire());
    track(sem.acquire());
    vi.advanceTimersByTime(5);
    await sem.close();
    track(sem.acquire());
    await flush();
    expect(sem.counters.rejected.unavailable).toBe(0);
  });

  it('balance: every acquire call is acquired, rejected or still waiting', async () => {
    const sem = new Semaphore({ limit: 2, maxQueue: 3 });
    let calls = 0;
    const acquire = (options?: Parameters<Semaphore['acquire']>[0]) => {
      calls++;
      return track(sem.acquire(options));
    };
    const a = acquire();
    const b = acquire({ weight: 1 });
    const controller = new AbortController();
    const c = acquire({ signal: controller.signal });
    const d = acquire({ timeoutMs: 10 });
    const e = acquire();
    const shed = acquire();
    acquire({ signal: AbortSignal.abort() });
    await flush();
    controller.abort();
    vi.advanceTimersByTime(10);
    await flush();
    a.result.release();
    await flush();
    const balance = () => {
      const { acquired, rejected } = sem.counters;
      const rejections = Object.values(rejected).reduce((x, y) => x + y, 0);
      return acquired + rejections + sem.waiting;
    };
    expect(balance()).toBe(calls);
    expect(sem.counters).toEqual({
      acquired: 3,
      released: 1,
      rejected: { queue_full: 1, timeout: 1, aborted: 2, closed: 0, unavailable: 0 },
    });
    expect([c.state, d.state, e.state, shed.state]).toEqual([
      'rejected',
      'rejected',
      'fulfilled',
      'rejected',
    ]);
    const later = acquire();
    await sem.close();
    await flush();
    expect(later.state).toBe('rejected');
    expect(balance()).toBe(calls);
    b.result.release();
    e.result.release();
    const { acquired, released } = sem.counters;
    expect(acquired - released).toBe(sem.inUse);
    expect(sem.inUse).toBe(0);
  });

  it('are a snapshot that later activity does not change', async () => {
    const sem = new Semaphore({ limit: 1 });
    const before = sem.counters;
    (await sem.acquire()).release();
    expect(before.acquired).toBe(0);
    expect(sem.counters.acquired).toBe(1);
  });
});

describe('onWait', () => {
  it('reports 0 for an acquire admitted at once', async () => {
    const sem = new Semaphore({ limit: 2 });
    const waits: number[] = [];
    sem.onWait((ms) => waits.push(ms));
    vi.advanceTimersByTime(500);
    await sem.acquire();
    expect(waits).toEqual([0]);
  });

  it('reports 0 for tryAcquire', () => {
    const sem = new Semaphore({ limit: 2 });
    const waits: number[] = [];
    sem.onWait((ms) => waits.push(ms));
    sem.tryAcquire();
    expect(sem.tryAcquire(2)).toBeUndefined();
    expect(waits).toEqual([0]);
  });

  it('reports the time a queued acquire waited, in ms', async () => {
    const sem = new Semaphore({ limit: 1 });
    const waits: number[] = [];
    sem.onWait((ms) => waits.push(ms));
    const holder = await sem.acquire();
    const waiter = track(sem.acquire());
    vi.advanceTimersByTime(250);
    holder.release();
    await flush();
    expect(waiter.state).toBe('fulfilled');
    expect(waits).toEqual([0, 250]);
  });

  it('reports nothing for a waiter that queued before the listener subscribed (no clock read without a listener)', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const early = track(sem.acquire());
    const waits: number[] = [];
    sem.onWait((ms) => waits.push(ms));
    holder.release();
    await flush();
    expect(early.state).toBe('fulfilled');
    expect(waits).toEqual([]);
    expect(sem.counters.acquired).toBe(2);
  });

  it('reports nothing for rejected acquires', async () => {
    const sem = new Semaphore({ limit: 1, maxQueue: 1 });
    const holder = await sem.acquire();
    const waits: number[] = [];
    sem.onWait((ms) => waits.push(ms));
    track(sem.acquire({ timeoutMs: 10 }));
    track(sem.acquire());
    track(sem.acquire({ signal: AbortSignal.abort() }));
    vi.advanceTimersByTime(10);
    holder.release();
    await sem.close();
    await flush();
    expect(waits).toEqual([]);
  });

  it('calls every listener', async () => {
    const sem = new Semaphore({ limit: 1 });
    const a = vi.fn();
    const b = vi.fn();
    sem.onWait(a);
    sem.onWait(b);
    (await sem.acquire()).release();
    expect(a).toHaveBeenCalledWith(0);
    expect(b).toHaveBeenCalledWith(0);
  });

  it('stops calling a listener once unsubscribed, and unsubscribing twice is harmless', async () => {
    const sem = new Semaphore({ limit: 1 });
    const kept = vi.fn();
    const dropped = vi.fn();
    sem.onWait(kept);
    const unsubscribe = sem.onWait(dropped);
    unsubscribe();
    unsubscribe();
    (await sem.acquire()).release();
    expect(dropped).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
  });

  it('lets a listener unsubscribe while being called without disturbing the others', async () => {
    const sem = new Semaphore({ limit: 1 });
    const calls: string[] = [];
    const unsubscribe = sem.onWait(() => {
      calls.push('first');
      unsubscribe();
    });
    sem.onWait(() => calls.push('second'));
    (await sem.acquire()).release();
    (await sem.acquire()).release();
    expect(calls).toEqual(['first', 'second', 'second']);
  });

  it('reports 0 for a higher-priority newcomer admitted at once past blocked waiters', async () => {
    const sem = new Semaphore({ limit: 3 });
    const waits: number[] = [];
    await sem.acquire();
    track(sem.acquire({ weight: 3 }));
    sem.onWait((ms) => waits.push(ms));
    vi.advanceTimersByTime(100);
    await sem.acquire({ priority: 1 });
    expect(waits).toEqual([0]);
  });

  it('loses no units when a wait listener throws on an immediate admission', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const sem = new Semaphore({ limit: 1 });
      sem.onWait(() => {
        throw new Error('metrics backend down');
      });
      let permit: Permit | undefined;
      try {
        permit = await sem.acquire();
      } catch {
        // Whether or not the hook's error reaches the caller, the units must not be lost.
      }
      expect(sem.inUse).toBe(permit?.weight ?? 0);
      permit?.release();
      expect(sem.inUse).toBe(0);
      expect(sem.tryAcquire()).toBeDefined();
    } finally {
      warn.mockRestore();
    }
  });

  it('serves every waiter that fits when a wait listener throws during a hand-off', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const sem = new Semaphore({ limit: 2 });
      const holder = await sem.acquire({ weight: 2 });
      const first = track(sem.acquire());
      const second = track(sem.acquire());
      sem.onWait(() => {
        throw new Error('metrics backend down');
      });
      try {
        holder.release();
      } catch {
        // Whether or not the hook's error reaches the releaser, the queue must move on.
      }
      await flush();
      expect([first.state, second.state]).toEqual(['fulfilled', 'fulfilled']);
      expect([sem.inUse, sem.waiting]).toEqual([2, 0]);
    } finally {
      warn.mockRestore();
    }
  });
});
