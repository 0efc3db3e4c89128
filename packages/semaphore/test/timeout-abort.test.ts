import { getEventListeners } from 'node:events';
import { isDoormanError, QueueFullError, QueueTimeoutError, Semaphore } from '@doorman/semaphore';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flush, track } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

describe('maxQueue', () => {
  it('rejects with QueueFullError when maxQueue waiters already wait', async () => {
    const sem = new Semaphore({ limit: 1, maxQueue: 2, name: 'ktv' });
    const holder = await sem.acquire();
    const queued = [track(sem.acquire()), track(sem.acquire())];
    const third = track(sem.acquire());
    await flush();
    expect(third.state).toBe('rejected');
    expect(third.error).toBeInstanceOf(QueueFullError);
    expect(third.error).toMatchObject({ code: 'QUEUE_FULL', limiter: 'ktv' });
    expect(sem.waiting).toBe(2);
    expect(queued.map((t) => t.state)).toEqual(['pending', 'pending']);
    holder.release();
  });

  it('sheds at once with maxQueue: 0 when no units are free, and admits when they are', async () => {
    const sem = new Semaphore({ limit: 1, maxQueue: 0 });
    const holder = await sem.acquire();
    await expect(sem.acquire()).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    expect(sem.waiting).toBe(0);
    holder.release();
    const next = await sem.acquire();
    expect(next.weight).toBe(1);
  });

  it('accepts a new waiter once a place in the queue has freed up', async () => {
    const sem = new Semaphore({ limit: 1, maxQueue: 1 });
    const holder = await sem.acquire();
    const first = track(sem.acquire());
    await expect(sem.acquire()).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    holder.release();
    await flush();
    expect(first.state).toBe('fulfilled');
    const second = track(sem.acquire());
    await flush();
    expect(second.state).toBe('pending');
    expect(sem.waiting).toBe(1);
  });

  it('queues without bound with maxQueue: Infinity', async () => {
    const sem = new Semaphore({ limit: 1, maxQueue: Number.POSITIVE_INFINITY });
    await sem.acquire();
    const waiters = Array.from({ length: 500 }, () => track(sem.acquire()));
    await flush();
    expect(sem.waiting).toBe(500);
    expect(waiters.every((t) => t.state === 'pending')).toBe(true);
  });
});

describe('timeouts', () => {
  it('rejects with QueueTimeoutError after queueTimeoutMs and the waiter leaves the queue', async () => {
    const sem = new Semaphore({ limit: 1, queueTimeoutMs: 1000, name: 'ktv' });
    const holder = await sem.acquire();
    const waiter = track(sem.acquire());
    vi.advanceTimersByTime(999);
    await flush();
    expect(waiter.state).toBe('pending');
    expect(sem.waiting).toBe(1);
    vi.advanceTimersByTime(1);
    expect(sem.waiting).toBe(0);
    await flush();
    expect(waiter.state).toBe('rejected');
    expect(waiter.error).toBeInstanceOf(QueueTimeoutError);
    expect(waiter.error).toMatchObject({ code: 'QUEUE_TIMEOUT', name: 'QueueTimeoutError' });
    expect(isDoormanError(waiter.error, 'QUEUE_TIMEOUT')).toBe(true);
    expect((waiter.error as Error).message).toMatch(/1000 ms.*ktv/);
    holder.release();
    expect(sem.inUse).toBe(0);
  });

  it('rejects after the per-acquire timeoutMs when no queueTimeoutMs is set', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const waiter = track(sem.acquire({ timeoutMs: 50 }));
    vi.advanceTimersByTime(49);
    await flush();
    expect(waiter.state).toBe('pending');
    vi.advanceTimersByTime(1);
    await flush();
    expect(waiter.error).toMatchObject({ code: 'QUEUE_TIMEOUT' });
    expect(sem.waiting).toBe(0);
  });

  it('lets the per-acquire timeoutMs override queueTimeoutMs, shorter or longer', async () => {
    const sem = new Semaphore({ limit: 1, queueTimeoutMs: 100 });
    await sem.acquire();
    const shorter = track(sem.acquire({ timeoutMs: 10 }));
    const longer = track(sem.acquire({ timeoutMs: 500 }));
    const unbounded = track(sem.acquire({ timeoutMs: Number.POSITIVE_INFINITY }));
    const byDefault = track(sem.acquire());
    vi.advanceTimersByTime(10);
    await flush();
    expect([shorter.state, longer.state, byDefault.state]).toEqual([
      'rejected',
      'pending',
      'pending',
    ]);
    vi.advanceTimersByTime(90);
    await flush();
    expect([longer.state, byDefault.state]).toEqual(['pending', 'rejected']);
    vi.advanceTimersByTime(400);
    await flush();
    expect(longer.state).toBe('rejected');
    expect(unbounded.state).toBe('pending');
    expect(vi.getTimerCount()).toBe(0);
    expect(sem.waiting).toBe(1);
  });

  it('creates no timer for a waiter without a timeout', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    for (let i = 0; i < 10; i++) track(sem.acquire({ priority: i % 3 }));
    expect(sem.waiting).toBe(10);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('creates no timer for an acquire admitted at once, even with a timeout set', async () => {
    const sem = new Semaphore({ limit: 2, queueTimeoutMs: 100 });
    await sem.acquire();
    await sem.acquire({ timeoutMs: 50 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("clears a waiter's timer when it is admitted", async () => {
    const sem = new Semaphore({ limit: 1, queueTimeoutMs: 100 });
    const holder = await sem.acquire();
    const waiter = track(sem.acquire());
    expect(vi.getTimerCount()).toBe(1);
    holder.release();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    await flush();
    expect(waiter.state).toBe('fulfilled');
    expect(sem.inUse).toBe(1);
  });

  it('lets lighter waiters in when a heavy head waiter times out', async () => {
    const sem = new Semaphore({ limit: 4 });
    await sem.acquire({ weight: 2 });
    const heavy = track(sem.acquire({ weight: 3, timeoutMs: 100 }));
    const light = track(sem.acquire({ weight: 2 }));
    const lighter = track(sem.acquire({ weight: 1 }));
    await flush();
    expect(light.state).toBe('pending');
    vi.advanceTimersByTime(100);
    await flush();
    expect(heavy.state).toBe('rejected');
    expect(light.state).toBe('fulfilled');
    expect(lighter.state).toBe('pending');
    expect(sem.inUse).toBe(4);
  });

  it('keeps the order of the others when a waiter in the middle times out', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const a = track(sem.acquire());
    const b = track(sem.acquire({ timeoutMs: 10 }));
    const c = track(sem.acquire());
    vi.advanceTimersByTime(10);
    await flush();
    expect(b.state).toBe('rejected');
    expect(sem.waiting).toBe(2);
    holder.release();
    await flush();
    expect([a.state, c.state]).toEqual(['fulfilled', 'pending']);
    a.result.release();
    await flush();
    expect(c.state).toBe('fulfilled');
  });

  it("does not fire early for a timeout beyond setTimeout's 2^31-1 ms maximum", async () => {
    // Node (and vitest's fake timers, which copy it) run a setTimeout longer
    // than 2^31-1 ms after 1 ms instead.
    const sem = new Semaphore({ limit: 1, queueTimeoutMs: 2 ** 31 });
    await sem.acquire();
    const waiter = track(sem.acquire());
    const day = 24 * 3600 * 1000;
    const explicit = track(sem.acquire({ timeoutMs: 30 * day }));
    vi.advanceTimersByTime(1000);
    await flush();
    expect([waiter.state, explicit.state]).toEqual(['pending', 'pending']);
    vi.advanceTimersByTime(2 ** 31 - 1001);
    await flush();
    expect([waiter.state, explicit.state]).toEqual(['pending', 'pending']);
    vi.advanceTimersByTime(1);
    await flush();
    expect(waiter.error).toMatchObject({ code: 'QUEUE_TIMEOUT' });
    expect(explicit.state).toBe('pending');
    vi.advanceTimersByTime(30 * day - 2 ** 31 - 1);
    await flush();
    expect(explicit.state).toBe('pending');
    vi.advanceTimersByTime(1);
    await flush();
    expect(explicit.error).toMatchObject({ code: 'QUEUE_TIMEOUT' });
    expect(sem.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('signal', () => {
  it('rejects with signal.reason for an already-aborted signal, even when units are free', async () => {
    const sem = new Semaphore({ limit: 2 });
    const reason = new Error('client left');
    await expect(sem.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(sem.inUse).toBe(0);
    expect(sem.waiting).toBe(0);
  });

  it("rejects with the signal's default AbortError reason when aborted without one", async () => {
    const sem = new Semaphore({ limit: 1 });
    const signal = AbortSignal.abort();
    const attempt = track(sem.acquire({ signal }));
    await flush();
    expect(attempt.error).toBe(signal.reason);
    expect(attempt.error).toMatchObject({ name: 'AbortError' });
  });

  it('rejects with signal.reason at once when aborted while queued, and leaves the queue', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const controller = new AbortController();
    const waiter = track(sem.acquire({ signal: controller.signal }));
    const behind = track(sem.acquire());
    expect(sem.waiting).toBe(2);
    const reason = { why: 'any value is a valid reason' };
    controller.abort(reason);
    expect(sem.waiting).toBe(1);
    await flush();
    expect(waiter.state).toBe('rejected');
    expect(waiter.error).toBe(reason);
    holder.release();
    await flush();
    expect(behind.state).toBe('fulfilled');
  });

  it('lets lighter waiters in when a heavy head waiter is aborted', async () => {
    const sem = new Semaphore({ limit: 3 });
    await sem.acquire();
    const controller = new AbortController();
    const heavy = track(sem.acquire({ weight: 3, signal: controller.signal }));
    const light = track(sem.acquire({ weight: 2 }));
    await flush();
    expect(light.state).toBe('pending');
    controller.abort();
    expect(sem.inUse).toBe(3);
    await flush();
    expect(heavy.state).toBe('rejected');
    expect(light.state).toBe('fulfilled');
  });

  it('adds no abort listener for an acquire admitted at once', async () => {
    const sem = new Semaphore({ limit: 1 });
    const controller = new AbortController();
    await sem.acquire({ signal: controller.signal });
    expect(abortListeners(controller.signal)).toBe(0);
  });

  it('removes the abort listener once the waiter is admitted; a later abort does nothing', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const controller = new AbortController();
    const waiter = track(sem.acquire({ signal: controller.signal }));
    expect(abortListeners(controller.signal)).toBe(1);
    holder.release();
    expect(abortListeners(controller.signal)).toBe(0);
    await flush();
    const permit = waiter.result;
    controller.abort();
    await flush();
    expect(permit.released).toBe(false);
    expect(sem.inUse).toBe(1);
    expect(sem.counters.rejected.aborted).toBe(0);
    permit.release();
    expect(sem.inUse).toBe(0);
  });

  it('removes the abort listener when the waiter times out; a later abort does nothing', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const controller = new AbortController();
    const waiter = track(sem.acquire({ signal: controller.signal, timeoutMs: 10 }));
    vi.advanceTimersByTime(10);
    expect(abortListeners(controller.signal)).toBe(0);
    controller.abort();
    await flush();
    expect(waiter.error).toMatchObject({ code: 'QUEUE_TIMEOUT' });
    expect(sem.counters.rejected).toMatchObject({ timeout: 1, aborted: 0 });
  });

  it("clears the waiter's timer when it is aborted", async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const controller = new AbortController();
    const waiter = track(sem.acquire({ signal: controller.signal, timeoutMs: 10 }));
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    await flush();
    expect(waiter.error).toBe(controller.signal.reason);
    expect(sem.counters.rejected).toMatchObject({ timeout: 0, aborted: 1 });
  });

  it('lets one signal serve several waiters, each leaving the queue on abort', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const controller = new AbortController();
    const waiters = [1, 2, 3].map(() => track(sem.acquire({ signal: controller.signal })));
    const other = track(sem.acquire());
    controller.abort();
    await flush();
    expect(waiters.map((t) => t.state)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(other.state).toBe('pending');
    expect(sem.waiting).toBe(1);
    expect(abortListeners(controller.signal)).toBe(0);
  });
});
