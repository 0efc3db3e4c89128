import { type Limiter, Semaphore } from '@doorman/semaphore';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flush, track } from './helpers.js';

describe('acquire and release', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('admits up to `limit` acquirers at once and queues the rest', async () => {
    const sem = new Semaphore({ limit: 3 });
    const admitted = [track(sem.acquire()), track(sem.acquire()), track(sem.acquire())];
    const fourth = track(sem.acquire());
    await flush();
    expect(admitted.map((t) => t.state)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(fourth.state).toBe('pending');
    expect(sem.inUse).toBe(3);
    expect(sem.waiting).toBe(1);
  });

  it('hands a released permit to the waiter at the head of the queue', async () => {
    const sem = new Semaphore({ limit: 1 });
    const first = await sem.acquire();
    const second = track(sem.acquire());
    await flush();
    expect(second.state).toBe('pending');
    first.release();
    await flush();
    expect(second.state).toBe('fulfilled');
    expect(sem.inUse).toBe(1);
    expect(sem.waiting).toBe(0);
    second.result.release();
    expect(sem.inUse).toBe(0);
  });

  it('resolves with a permit of weight 1 by default', async () => {
    const sem = new Semaphore({ limit: 2 });
    const permit = await sem.acquire();
    expect(permit.weight).toBe(1);
    expect(permit.released).toBe(false);
  });

  it('reports live `limit`, `inUse`, `available` and `waiting` at every step', async () => {
    const sem = new Semaphore({ limit: 2 });
    const snapshot = () => [sem.limit, sem.inUse, sem.available, sem.waiting];
    expect(snapshot()).toEqual([2, 0, 2, 0]);
    const a = await sem.acquire();
    expect(snapshot()).toEqual([2, 1, 1, 0]);
    const b = await sem.acquire();
    expect(snapshot()).toEqual([2, 2, 0, 0]);
    const c = track(sem.acquire());
    expect(snapshot()).toEqual([2, 2, 0, 1]);
    a.release();
    expect(snapshot()).toEqual([2, 2, 0, 0]);
    b.release();
    expect(snapshot()).toEqual([2, 1, 1, 0]);
    await flush();
    c.result.release();
    expect(snapshot()).toEqual([2, 0, 2, 0]);
  });

  it('takes `weight` units for a weighted acquire', async () => {
    const sem = new Semaphore({ limit: 5 });
    const permit = await sem.acquire({ weight: 3 });
    expect(permit.weight).toBe(3);
    expect(sem.inUse).toBe(3);
    expect(sem.available).toBe(2);
    const tooHeavy = track(sem.acquire({ weight: 3 }));
    await flush();
    expect(tooHeavy.state).toBe('pending');
    permit.release();
    await flush();
    expect(tooHeavy.result.weight).toBe(3);
    expect(sem.inUse).toBe(3);
  });

  it('admits a weight equal to the whole limit', async () => {
    const sem = new Semaphore({ limit: 4 });
    const permit = await sem.acquire({ weight: 4 });
    expect(sem.available).toBe(0);
    permit.release();
    expect(sem.available).toBe(4);
  });

  it('admits a heavy waiter only once enough units are free, across several releases', async () => {
    const sem = new Semaphore({ limit: 3 });
    const held = [await sem.acquire(), await sem.acquire(), await sem.acquire()];
    const heavy = track(sem.acquire({ weight: 3 }));
    held[0]?.release();
    await flush();
    expect(heavy.state).toBe('pending');
    held[1]?.release();
    await flush();
    expect(heavy.state).toBe('pending');
    held[2]?.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
    expect(sem.inUse).toBe(3);
  });

  it('does not let lighter waiters overtake a heavy waiter at the head (FIFO)', async () => {
    const sem = new Semaphore({ limit: 4 });
    const holder = await sem.acquire({ weight: 3 });
    const heavy = track(sem.acquire({ weight: 3 }));
    const light = track(sem.acquire({ weight: 1 }));
    await flush();
    // One unit is free and would fit `light`, but `heavy` is first in line.
    expect(sem.available).toBe(1);
    expect(light.state).toBe('pending');
    expect(heavy.state).toBe('pending');
    holder.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
    expect(light.state).toBe('fulfilled');
    expect(sem.inUse).toBe(4);
  });

  it('queues a newcomer behind waiters even when its own weight would fit', async () => {
    const sem = new Semaphore({ limit: 2 });
    const holder = await sem.acquire();
    const heavy = track(sem.acquire({ weight: 2 }));
    const newcomer = track(sem.acquire());
    await flush();
    expect(sem.available).toBe(1);
    expect(newcomer.state).toBe('pending');
    expect(sem.waiting).toBe(2);
    holder.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
    expect(newcomer.state).toBe('pending');
  });

  it('queues without bound and without a timeout when not told otherwise', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const waiters = Array.from({ length: 1000 }, () => track(sem.acquire()));
    vi.advanceTimersByTime(365 * 24 * 3600 * 1000);
    await flush();
    expect(sem.waiting).toBe(1000);
    expect(waiters.every((t) => t.state === 'pending')).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    holder.release();
    for (const t of waiters) {
      await flush();
      t.result.release();
    }
    expect(sem.inUse).toBe(0);
    expect(sem.waiting).toBe(0);
  });

  it('is named `semaphore` by default and takes the `name` option', () => {
    expect(new Semaphore({ limit: 1 }).name).toBe('semaphore');
    expect(new Semaphore({ limit: 1, name: 'ktv' }).name).toBe('ktv');
  });

  it('can be used as a Limiter', async () => {
    const limiter: Limiter = new Semaphore({ limit: 2, name: 'db' });
    const permit = await limiter.acquire({ weight: 2 });
    expect([limiter.name, limiter.limit, limiter.inUse, limiter.waiting]).toEqual(['db', 2, 2, 0]);
    permit.release();
    expect(limiter.counters.acquired).toBe(1);
    expect(typeof limiter.onWait(() => {})).toBe('function');
  });
});
