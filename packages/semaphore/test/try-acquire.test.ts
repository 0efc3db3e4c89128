import { Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { flush, track } from './helpers.js';

describe('tryAcquire', () => {
  it('returns a permit holding the units when they are free', () => {
    const sem = new Semaphore({ limit: 3 });
    const permit = sem.tryAcquire();
    expect(permit?.weight).toBe(1);
    expect(permit?.released).toBe(false);
    expect(sem.inUse).toBe(1);
    const heavy = sem.tryAcquire(2);
    expect(heavy?.weight).toBe(2);
    expect(sem.inUse).toBe(3);
    heavy?.release();
    permit?.release();
    expect(sem.inUse).toBe(0);
  });

  it('returns undefined when the units are not free, without queueing', () => {
    const sem = new Semaphore({ limit: 2 });
    const held = sem.tryAcquire();
    expect(sem.tryAcquire(2)).toBeUndefined();
    expect(sem.waiting).toBe(0);
    expect(sem.inUse).toBe(1);
    expect(sem.tryAcquire()).toBeDefined();
    expect(sem.tryAcquire()).toBeUndefined();
    expect(sem.waiting).toBe(0);
    held?.release();
  });

  it('never overtakes waiters, even when the units it asks for are free', async () => {
    const sem = new Semaphore({ limit: 2 });
    const holder = await sem.acquire();
    const heavy = track(sem.acquire({ weight: 2 }));
    expect(sem.available).toBe(1);
    expect(sem.tryAcquire()).toBeUndefined();
    expect(sem.inUse).toBe(1);
    holder.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
  });

  it('throws on an invalid weight instead of returning undefined', () => {
    const sem = new Semaphore({ limit: 2 });
    expect(() => sem.tryAcquire(3)).toThrow(RangeError);
    expect(() => sem.tryAcquire(0)).toThrow(RangeError);
    expect(() => sem.tryAcquire('1' as never)).toThrow(TypeError);
    expect(sem.inUse).toBe(0);
  });

  it('gives a permit that releases like any other', async () => {
    const sem = new Semaphore({ limit: 1 });
    const permit = sem.tryAcquire();
    const waiter = track(sem.acquire());
    permit?.release();
    await flush();
    expect(waiter.state).toBe('fulfilled');
  });
});
