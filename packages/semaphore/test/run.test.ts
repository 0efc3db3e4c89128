import { Semaphore } from '@doorman/semaphore';
import { describe, expect, it, vi } from 'vitest';
import { deferred, flush, track } from './helpers.js';

describe('run', () => {
  it("returns fn's value, synchronous or awaited", async () => {
    const sem = new Semaphore({ limit: 1 });
    await expect(sem.run(() => 42)).resolves.toBe(42);
    await expect(sem.run(async () => 'done')).resolves.toBe('done');
  });

  it('holds a permit while fn runs and releases it on success', async () => {
    const sem = new Semaphore({ limit: 2 });
    const gate = deferred();
    const running = track(
      sem.run(async () => {
        await gate.promise;
        return sem.inUse;
      }),
    );
    await flush();
    expect(sem.inUse).toBe(1);
    gate.resolve();
    await flush();
    expect(running.result).toBe(1);
    expect(sem.inUse).toBe(0);
    expect(sem.counters.released).toBe(1);
  });

  it('releases the permit when fn throws, rejecting with that error', async () => {
    const sem = new Semaphore({ limit: 1 });
    const boom = new Error('boom');
    await expect(
      sem.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(sem.inUse).toBe(0);
    expect(sem.counters.released).toBe(1);
  });

  it("releases the permit when fn's promise rejects", async () => {
    const sem = new Semaphore({ limit: 1 });
    const boom = new Error('later');
    await expect(sem.run(() => Promise.reject(boom))).rejects.toBe(boom);
    expect(sem.inUse).toBe(0);
  });

  it('waits for a permit before calling fn', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const fn = vi.fn(() => 'ran');
    const running = track(sem.run(fn));
    await flush();
    expect(fn).not.toHaveBeenCalled();
    expect(sem.waiting).toBe(1);
    holder.release();
    await flush();
    expect(fn).toHaveBeenCalledTimes(1);
    expect(running.result).toBe('ran');
    expect(sem.inUse).toBe(0);
  });

  it('passes its options to acquire (weight)', async () => {
    const sem = new Semaphore({ limit: 3 });
    await expect(sem.run(() => sem.inUse, { weight: 3 })).resolves.toBe(3);
    expect(sem.inUse).toBe(0);
  });

  it('rejects without calling fn when the acquire is refused', async () => {
    const sem = new Semaphore({ limit: 1, maxQueue: 0 });
    const holder = await sem.acquire();
    const fn = vi.fn();
    await expect(sem.run(fn)).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    const reason = new Error('gone');
    await expect(sem.run(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
    holder.release();
    expect(sem.inUse).toBe(0);
  });
});
