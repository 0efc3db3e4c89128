import { Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { flush, track } from './helpers.js';

describe('Permit', () => {
  it('carries the weight it was acquired with', async () => {
    const sem = new Semaphore({ limit: 5 });
    expect((await sem.acquire({ weight: 4 })).weight).toBe(4);
    expect(sem.tryAcquire(1)?.weight).toBe(1);
  });

  it('reports `released` false while held and true after release()', async () => {
    const sem = new Semaphore({ limit: 1 });
    const permit = await sem.acquire();
    expect(permit.released).toBe(false);
    permit.release();
    expect(permit.released).toBe(true);
  });

  it('ignores a second release(): inUse, available and counters stay put', async () => {
    const sem = new Semaphore({ limit: 3 });
    const a = await sem.acquire({ weight: 2 });
    const b = await sem.acquire();
    a.release();
    expect([sem.inUse, sem.available]).toEqual([1, 2]);
    a.release();
    a.release();
    expect([sem.inUse, sem.available]).toEqual([1, 2]);
    expect(sem.counters.released).toBe(1);
    expect(a.released).toBe(true);
    b.release();
    expect(sem.inUse).toBe(0);
  });

  it('does not let an extra waiter in on a double release', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const first = track(sem.acquire());
    const second = track(sem.acquire());
    holder.release();
    holder.release();
    await flush();
    expect(first.state).toBe('fulfilled');
    expect(second.state).toBe('pending');
    expect([sem.inUse, sem.available, sem.waiting]).toEqual([1, 0, 1]);
    expect(sem.tryAcquire()).toBeUndefined();
  });

  it('ignores a release of an old permit after its units went to someone else', async () => {
    const sem = new Semaphore({ limit: 1 });
    const old = await sem.acquire();
    old.release();
    const current = await sem.acquire();
    const waiter = track(sem.acquire());
    old.release();
    await flush();
    expect(waiter.state).toBe('pending');
    expect(sem.inUse).toBe(1);
    current.release();
    await flush();
    expect(waiter.state).toBe('fulfilled');
  });

  it('releases through Symbol.dispose, once', async () => {
    const sem = new Semaphore({ limit: 2 });
    const permit = await sem.acquire();
    permit[Symbol.dispose]();
    expect(permit.released).toBe(true);
    expect(sem.inUse).toBe(0);
    permit[Symbol.dispose]();
    permit.release();
    expect(sem.inUse).toBe(0);
    expect(sem.counters.released).toBe(1);
  });

  it('is released at the end of a `using` block', async () => {
    const sem = new Semaphore({ limit: 1 });
    let escaped: { released: boolean } | undefined;
    {
      using permit = await sem.acquire();
      escaped = permit;
      expect(sem.inUse).toBe(1);
    }
    expect(escaped.released).toBe(true);
    expect(sem.inUse).toBe(0);
  });

  it('is released at the end of a `using` block left by a throw', async () => {
    const sem = new Semaphore({ limit: 1 });
    const work = async () => {
      using _permit = await sem.acquire();
      throw new Error('handler failed');
    };
    await expect(work()).rejects.toThrow('handler failed');
    expect(sem.inUse).toBe(0);
  });

  it('hands its units to the next waiter when a `using` block ends', async () => {
    const sem = new Semaphore({ limit: 1 });
    const waiter = (async () => {
      using _first = await sem.acquire();
      return track(sem.acquire());
    })();
    const next = await waiter;
    await flush();
    expect(next.state).toBe('fulfilled');
    expect(sem.inUse).toBe(1);
  });
});
