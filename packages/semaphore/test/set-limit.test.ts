import { isDoormanError, Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { flush, track } from './helpers.js';

describe('setLimit', () => {
  it('admits waiters at once when the limit grows', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const waiters = [track(sem.acquire()), track(sem.acquire()), track(sem.acquire())];
    sem.setLimit(3);
    // The hand-off is synchronous: the numbers move before any promise callback runs.
    expect([sem.limit, sem.inUse, sem.available, sem.waiting]).toEqual([3, 3, 0, 1]);
    await flush();
    expect(waiters.map((t) => t.state)).toEqual(['fulfilled', 'fulfilled', 'pending']);
  });

  it('admits grown-into waiters in queue order, heavy head first', async () => {
    const sem = new Semaphore({ limit: 2 });
    await sem.acquire({ weight: 2 });
    const heavy = track(sem.acquire({ weight: 2 }));
    const light = track(sem.acquire());
    sem.setLimit(4);
    await flush();
    expect(heavy.state).toBe('fulfilled');
    expect(light.state).toBe('pending');
    sem.setLimit(5);
    await flush();
    expect(light.state).toBe('fulfilled');
  });

  it('takes nothing back when the limit shrinks: holders keep their units', async () => {
    const sem = new Semaphore({ limit: 4 });
    const permits = [await sem.acquire({ weight: 2 }), await sem.acquire({ weight: 2 })];
    sem.setLimit(1);
    expect(sem.limit).toBe(1);
    expect(sem.inUse).toBe(4);
    expect(sem.available).toBe(0);
    expect(permits.every((p) => !p.released)).toBe(true);
    for (const p of permits) p.release();
    expect(sem.inUse).toBe(0);
    expect(sem.available).toBe(1);
  });

  it('admits nobody after a shrink until inUse has fallen below the new limit', async () => {
    const sem = new Semaphore({ limit: 4 });
    const held = [
      await sem.acquire(),
      await sem.acquire(),
      await sem.acquire(),
      await sem.acquire(),
    ];
    const waiter = track(sem.acquire());
    sem.setLimit(2);
    held[0]?.release(); // inUse 3
    await flush();
    expect(waiter.state).toBe('pending');
    held[1]?.release(); // inUse 2 = limit
    await flush();
    expect(waiter.state).toBe('pending');
    expect(sem.tryAcquire()).toBeUndefined();
    held[2]?.release(); // inUse 1 < limit
    await flush();
    expect(waiter.state).toBe('fulfilled');
    expect(sem.inUse).toBe(2);
  });

  it('refuses waiters heavier than the new limit as QUEUE_FULL, counts them, and keeps the others', async () => {
    const sem = new Semaphore({ limit: 4 });
    const holder = await sem.acquire({ weight: 4 });
    const heavy = track(sem.acquire({ weight: 4 }));
    const fits = track(sem.acquire({ weight: 2 }));
    const alsoHeavy = track(sem.acquire({ weight: 3, priority: 2 }));
    sem.setLimit(2);
    expect(sem.waiting).toBe(1);
    await flush();
    expect(heavy.state).toBe('rejected');
    expect(isDoormanError(heavy.error, 'QUEUE_FULL')).toBe(true);
    expect((heavy.error as Error).message).toMatch(/shrank to 2, below this waiter's weight 4/);
    expect(isDoormanError(alsoHeavy.error, 'QUEUE_FULL')).toBe(true);
    expect(sem.counters.rejected.queue_full).toBe(2);
    expect(fits.state).toBe('pending');
    holder.release();
    await flush();
    expect(fits.state).toBe('fulfilled');
  });

  it('lets lighter waiters in when a shrink rejects the heavy waiter at the head', async () => {
    const sem = new Semaphore({ limit: 4 });
    await sem.acquire();
    const heavy = track(sem.acquire({ weight: 4 }));
    const light = track(sem.acquire({ weight: 2 }));
    sem.setLimit(3);
    await flush();
    expect(heavy.state).toBe('rejected');
    expect(light.state).toBe('fulfilled');
    expect(sem.inUse).toBe(3);
  });

  it('changes nothing when set to the current limit', async () => {
    const sem = new Semaphore({ limit: 2 });
    await sem.acquire({ weight: 2 });
    const waiter = track(sem.acquire());
    sem.setLimit(2);
    await flush();
    expect(waiter.state).toBe('pending');
    expect([sem.limit, sem.inUse, sem.waiting]).toEqual([2, 2, 1]);
  });

  it('checks later weights against the new limit', async () => {
    const sem = new Semaphore({ limit: 2 });
    sem.setLimit(8);
    const big = await sem.acquire({ weight: 8 });
    big.release();
    sem.setLimit(2);
    await expect(sem.acquire({ weight: 3 })).rejects.toThrow(RangeError);
    expect(() => sem.tryAcquire(3)).toThrow(/`weight`.*\(2\).*`3`/);
  });

  it('leaves the limit unchanged when given an invalid value', async () => {
    const sem = new Semaphore({ limit: 3 });
    expect(() => sem.setLimit(0)).toThrow(RangeError);
    expect(() => sem.setLimit(2.5)).toThrow(RangeError);
    expect(() => sem.setLimit('5' as never)).toThrow(TypeError);
    expect(sem.limit).toBe(3);
  });
});
