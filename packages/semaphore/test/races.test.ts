import { LimiterClosedError, type Permit, Semaphore } from '@doorman/semaphore';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flush, type Tracked, track } from './helpers.js';

/** Releases every fulfilled permit and checks that nothing is held or waiting afterwards. */
async function expectAllReturned(sem: Semaphore, ...tracked: Array<Tracked<Permit>>) {
  await flush();
  for (const t of tracked) if (t.state === 'fulfilled') t.value?.release();
  await flush();
  expect(sem.inUse).toBe(0);
  expect(sem.waiting).toBe(0);
  const { acquired, released } = sem.counters;
  expect(acquired).toBe(released);
}

describe('races: no permit is lost', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets a waiter granted and aborted in the same tick keep its permit', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const controller = new AbortController();
    const waiter = track(sem.acquire({ signal: controller.signal }));
    holder.release();
    controller.abort();
    await flush();
    expect(waiter.state).toBe('fulfilled');
    expect(waiter.result.released).toBe(false);
    expect(sem.inUse).toBe(1);
    expect(sem.counters.rejected.aborted).toBe(0);
    await expectAllReturned(sem, waiter);
  });

  it('hands the permit to the next waiter when a waiter is aborted and then released to in the same tick', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const controller = new AbortController();
    const aborted = track(sem.acquire({ signal: controller.signal }));
    const next = track(sem.acquire());
    controller.abort();
    holder.release();
    await flush();
    expect(aborted.state).toBe('rejected');
    expect(next.state).toBe('fulfilled');
    expect(sem.inUse).toBe(1);
    await expectAllReturned(sem, aborted, next);
  });

  it('lets a waiter keep a permit granted just before its own abort listener runs', async () => {
    // Another listener on the same signal, added first, runs first and releases
    // the permit the waiter is waiting for: the grant wins, the abort is ignored.
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const controller = new AbortController();
    controller.signal.addEventListener('abort', () => holder.release());
    const waiter = track(sem.acquire({ signal: controller.signal }));
    controller.abort();
    await flush();
    expect(waiter.state).toBe('fulfilled');
    expect(sem.inUse).toBe(1);
    await expectAllReturned(sem, waiter);
  });

  it('hands the permit on when the waiter’s abort listener runs before a release in the same dispatch', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const controller = new AbortController();
    const waiter = track(sem.acquire({ signal: controller.signal }));
    const next = track(sem.acquire());
    controller.signal.addEventListener('abort', () => holder.release());
    controller.abort();
    await flush();
    expect(waiter.state).toBe('rejected');
    expect(next.state).toBe('fulfilled');
    await expectAllReturned(sem, waiter, next);
  });

  it('ignores an abort fired from inside the hand-off itself', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const controller = new AbortController();
    // Subscribed after the holder got in, so it runs only inside the hand-off.
    sem.onWait(() => controller.abort());
    const waiter = track(sem.acquire({ signal: controller.signal }));
    holder.release();
    await flush();
    expect(controller.signal.aborted).toBe(true);
    expect(waiter.state).toBe('fulfilled');
    expect(sem.inUse).toBe(1);
    await expectAllReturned(sem, waiter);
  });

  it('lets a waiter whose timeout fires in the same tick as its grant keep the permit', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    // Same deadline; this timer was set first, so the release runs first.
    setTimeout(() => holder.release(), 100);
    const waiter = track(sem.acquire({ timeoutMs: 100 }));
    vi.advanceTimersByTime(100);
    await flush();
    expect(waiter.state).toBe('fulfilled');
    expect(sem.counters.rejected.timeout).toBe(0);
    expect(sem.inUse).toBe(1);
    await expectAllReturned(sem, waiter);
  });

  it('hands the permit to the next waiter when a timeout fires just before the release in the same tick', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const timedOut = track(sem.acquire({ timeoutMs: 100 }));
    const next = track(sem.acquire());
    // Same deadline; the waiter's timer was set first, so it fires first.
    setTimeout(() => holder.release(), 100);
    vi.advanceTimersByTime(100);
    await flush();
    expect(timedOut.error).toMatchObject({ code: 'QUEUE_TIMEOUT' });
    expect(next.state).toBe('fulfilled');
    expect(sem.inUse).toBe(1);
    await expectAllReturned(sem, timedOut, next);
  });

  it('loses no permit when the limit shrinks right after a hand-off', async () => {
    const sem = new Semaphore({ limit: 4 });
    const holder = await sem.acquire({ weight: 4 });
    const granted = track(sem.acquire({ weight: 4 }));
    const next = track(sem.acquire());
    holder.release();
    sem.setLimit(2);
    await flush();
    // The granted waiter is no longer a waiter: it keeps its 4 units, and is not
    // rejected for being heavier than the new limit.
    expect(granted.state).toBe('fulfilled');
    expect(granted.result.weight).toBe(4);
    expect(sem.inUse).toBe(4);
    expect(next.state).toBe('pending');
    granted.result.release();
    await flush();
    expect(next.state).toBe('fulfilled');
    await expectAllReturned(sem, granted, next);
  });

  it('admits the next waiters when the limit grows right after a hand-off', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const a = track(sem.acquire());
    const b = track(sem.acquire());
    const c = track(sem.acquire());
    holder.release();
    sem.setLimit(2);
    await flush();
    expect([a.state, b.state, c.state]).toEqual(['fulfilled', 'fulfilled', 'pending']);
    expect(sem.inUse).toBe(2);
    a.value?.release();
    await flush();
    expect(c.state).toBe('fulfilled');
    await expectAllReturned(sem, a, b, c);
  });

  it('lets a waiter granted right before close keep its permit, rejecting only those still waiting', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const granted = track(sem.acquire());
    const rest = track(sem.acquire());
    holder.release();
    const closing = sem.close();
    await flush();
    expect(granted.state).toBe('fulfilled');
    expect(rest.error).toBeInstanceOf(LimiterClosedError);
    expect(sem.inUse).toBe(1);
    const idle = track(sem.idle());
    await closing;
    await flush();
    expect(idle.state).toBe('pending');
    granted.result.release();
    await flush();
    expect(idle.state).toBe('fulfilled');
    await expectAllReturned(sem, granted, rest);
  });

  it('admits nobody when close comes right before a release in the same tick', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const waiter = track(sem.acquire());
    void sem.close();
    holder.release();
    await flush();
    expect(waiter.error).toBeInstanceOf(LimiterClosedError);
    expect(sem.inUse).toBe(0);
    await expectAllReturned(sem, waiter);
  });

  it('returns every unit after a tick mixing grants, aborts, timeouts, resizes and close', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore({ limit: 3, maxQueue: 6 });
    const held = [await sem.acquire({ weight: 2 }), await sem.acquire()];
    const controllers = [new AbortController(), new AbortController()];
    const waiters = [
      track(sem.acquire({ weight: 3, signal: controllers[0]?.signal })),
      track(sem.acquire({ weight: 1, timeoutMs: 50 })),
      track(sem.acquire({ weight: 2, priority: 1 })),
      track(sem.acquire({ weight: 1, signal: controllers[1]?.signal })),
      track(sem.acquire({ weight: 3, timeoutMs: 50 })),
      track(sem.acquire({ weight: 1 })),
    ];
    const shed = track(sem.acquire());
    setTimeout(() => {
      held[0]?.release();
      controllers[0]?.abort();
      sem.setLimit(2);
      controllers[1]?.abort();
      held[1]?.release();
      sem.setLimit(4);
    }, 50);
    vi.advanceTimersByTime(50);
    await flush();
    // At t=50 the two timeouts fire first (their timers are older), then in one
    // callback: the priority-1 waiter gets the 2 freed units, the heavy head is
    // aborted, the shrink leaves the holders be, the next head is aborted, and
    // the grow admits the last light waiter.
    expect(waiters.map((t) => t.state)).toEqual([
      'rejected',
      'rejected',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect(shed.error).toMatchObject({ code: 'QUEUE_FULL' });
    expect([sem.limit, sem.inUse, sem.waiting]).toEqual([4, 3, 0]);
    await sem.close();
    const all = [...waiters, shed];
    const { acquired, rejected } = sem.counters;
    expect(acquired).toBe(4);
    expect(rejected).toEqual({ queue_full: 1, timeout: 2, aborted: 2, closed: 0, unavailable: 0 });
    await expectAllReturned(sem, ...all);
  });
});
