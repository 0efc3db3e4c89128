import { getEventListeners } from 'node:events';
import { isDoormanError, LimiterClosedError, Semaphore } from '@doorman/semaphore';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flush, track } from './helpers.js';

describe('close', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rejects every waiter with LimiterClosedError carrying the reason as cause', async () => {
    const sem = new Semaphore({ limit: 1, name: 'ktv' });
    await sem.acquire();
    const waiters = [track(sem.acquire()), track(sem.acquire({ priority: 3 }))];
    const reason = new Error('shutting down');
    await sem.close(reason);
    expect(sem.waiting).toBe(0);
    await flush();
    for (const w of waiters) {
      expect(w.error).toBeInstanceOf(LimiterClosedError);
      expect(w.error).toMatchObject({ code: 'CLOSED', name: 'LimiterClosedError', limiter: 'ktv' });
      expect((w.error as Error).cause).toBe(reason);
    }
  });

  it('rejects every later acquire with LimiterClosedError, even when units are free', async () => {
    const sem = new Semaphore({ limit: 3 });
    await sem.close();
    const attempt = track(sem.acquire());
    await flush();
    expect(attempt.error).toBeInstanceOf(LimiterClosedError);
    expect(isDoormanError(attempt.error, 'CLOSED')).toBe(true);
    const fn = vi.fn();
    await expect(sem.run(fn)).rejects.toMatchObject({ code: 'CLOSED' });
    expect(fn).not.toHaveBeenCalled();
    expect(sem.inUse).toBe(0);
  });

  it('gives later acquires the reason given to close as cause', async () => {
    const sem = new Semaphore({ limit: 1 });
    const reason = new Error('shutting down');
    await sem.close(reason);
    const attempt = track(sem.acquire());
    await flush();
    expect(attempt.error).toBeInstanceOf(LimiterClosedError);
    expect((attempt.error as Error).cause).toBe(reason);
  });

  it('sets no cause when closed without a reason', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const waiter = track(sem.acquire());
    await sem.close();
    await flush();
    expect(waiter.error).toBeInstanceOf(LimiterClosedError);
    expect((waiter.error as Error).cause).toBeUndefined();
    expect(Object.hasOwn(waiter.error as Error, 'cause')).toBe(false);
  });

  it('lets held permits release as usual after close', async () => {
    const sem = new Semaphore({ limit: 2 });
    const a = await sem.acquire();
    const b = await sem.acquire();
    await sem.close();
    expect(sem.inUse).toBe(2);
    a.release();
    b.release();
    expect(sem.inUse).toBe(0);
    expect(sem.counters.released).toBe(2);
  });

  it('makes tryAcquire return undefined', async () => {
    const sem = new Semaphore({ limit: 2 });
    await sem.close();
    expect(sem.tryAcquire()).toBeUndefined();
    expect(sem.inUse).toBe(0);
  });

  it('is harmless when called a second time', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const waiter = track(sem.acquire());
    const first = new Error('first');
    await sem.close(first);
    await expect(sem.close(new Error('second'))).resolves.toBeUndefined();
    await flush();
    expect((waiter.error as Error).cause).toBe(first);
    expect(sem.counters.rejected.closed).toBe(1);
    expect(sem.isClosed).toBe(true);
  });

  it("removes the waiters' timers and abort listeners", async () => {
    vi.useFakeTimers();
    const sem = new Semaphore({ limit: 1, queueTimeoutMs: 100 });
    await sem.acquire();
    const controller = new AbortController();
    const waiter = track(sem.acquire({ signal: controller.signal }));
    expect(vi.getTimerCount()).toBe(1);
    await sem.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort();
    await flush();
    expect(waiter.error).toBeInstanceOf(LimiterClosedError);
    expect(sem.counters.rejected).toMatchObject({ closed: 1, aborted: 0, timeout: 0 });
  });

  it('closes at the end of an `await using` block', async () => {
    let escaped: Semaphore | undefined;
    {
      await using sem = new Semaphore({ limit: 1 });
      escaped = sem;
      expect(sem.isClosed).toBe(false);
    }
    expect(escaped.isClosed).toBe(true);
    await expect(escaped.acquire()).rejects.toBeInstanceOf(LimiterClosedError);
  });

  it('closes through Symbol.asyncDispose, rejecting waiters', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const waiter = track(sem.acquire());
    await sem[Symbol.asyncDispose]();
    await flush();
    expect(waiter.error).toBeInstanceOf(LimiterClosedError);
  });
});

describe('idle', () => {
  it('resolves at once when nothing is held and nobody waits', async () => {
    const sem = new Semaphore({ limit: 2 });
    const idle = track(sem.idle());
    await flush();
    expect(idle.state).toBe('fulfilled');
  });

  it('resolves when the last permit is released', async () => {
    const sem = new Semaphore({ limit: 2 });
    const a = await sem.acquire();
    const b = await sem.acquire();
    const idle = track(sem.idle());
    a.release();
    await flush();
    expect(idle.state).toBe('pending');
    b.release();
    await flush();
    expect(idle.state).toBe('fulfilled');
  });

  it('waits for queued waiters to be served and to release', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const waiter = track(sem.acquire());
    const idle = track(sem.idle());
    holder.release();
    await flush();
    expect(idle.state).toBe('pending');
    waiter.result.release();
    await flush();
    expect(idle.state).toBe('fulfilled');
  });

  it('resolves once the last waiter has left the queue and the last permit is back', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const controller = new AbortController();
    const waiter = track(sem.acquire({ signal: controller.signal }));
    const idle = track(sem.idle());
    controller.abort();
    await flush();
    expect(waiter.state).toBe('rejected');
    expect(sem.waiting).toBe(0);
    expect(idle.state).toBe('pending'); // the holder still counts
    holder.release();
    await flush();
    expect(idle.state).toBe('fulfilled');
    expect(sem.inUse).toBe(0);
  });

  it('resolves for every idle() caller', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const callers = [track(sem.idle()), track(sem.idle()), track(sem.idle())];
    holder.release();
    await flush();
    expect(callers.map((c) => c.state)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  });

  it('waits again for new work after having resolved once', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.idle();
    const permit = await sem.acquire();
    const idle = track(sem.idle());
    await flush();
    expect(idle.state).toBe('pending');
    permit.release();
    await flush();
    expect(idle.state).toBe('fulfilled');
  });

  it('resolves after close once the held permits are back', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    track(sem.acquire());
    const idle = track(sem.idle());
    await sem.close();
    await flush();
    expect(idle.state).toBe('pending');
    holder.release();
    await flush();
    expect(idle.state).toBe('fulfilled');
  });
});
