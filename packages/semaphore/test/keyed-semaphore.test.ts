import { KeyedSemaphore, LimiterClosedError, type Permit, Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { flush, track } from './helpers.js';

describe('KeyedSemaphore', () => {
  it('rejects an acquire without a key, or with a key that is not a string', async () => {
    const sem = new KeyedSemaphore({ limit: 2 });
    await expect(sem.acquire()).rejects.toThrow(
      new TypeError('Expected `key` to be a string, got `undefined` (undefined)'),
    );
    await expect(sem.acquire({ weight: 1 })).rejects.toThrow(TypeError);
    await expect(sem.acquire({ key: 7 as never })).rejects.toThrow(
      new TypeError('Expected `key` to be a string, got `7` (number)'),
    );
    expect(() => sem.tryAcquire(1)).toThrow(
      new TypeError('Expected `key` to be a string, got `undefined` (undefined)'),
    );
    expect(sem.activeKeys).toBe(0);
    expect(sem.counters.acquired).toBe(0);
  });

  it('rejects an unknown acquire option, naming it', async () => {
    const sem = new KeyedSemaphore({ limit: 2 });
    await expect(sem.acquire({ key: 'a', wieght: 2 } as never)).rejects.toThrow(
      /Unknown option `wieght` in acquire options/,
    );
  });

  it('is refused a key by a plain Semaphore, which has no keys', async () => {
    const sem = new Semaphore({ limit: 2 });
    await expect(sem.acquire({ key: 'a' })).rejects.toThrow(
      /Unknown option `key` in acquire options \(given `'a'` \(string\)\)/,
    );
  });

  it('hands out no handle to one key: get() is gone', () => {
    const sem = new KeyedSemaphore({ limit: 1 });
    expect('get' in sem).toBe(false);
  });

  it('gives each key its own limit when there is no totalLimit', async () => {
    const sem = new KeyedSemaphore({ limit: 1 });
    const a = await sem.acquire({ key: 'a' });
    const b = await sem.acquire({ key: 'b' });
    const a2 = track(sem.acquire({ key: 'a' }));
    await flush();
    expect(a2.state).toBe('pending');
    expect(sem.tryAcquire(1, 'a')).toBeUndefined();
    expect(sem.inUse).toBe(2);
    a.release();
    await flush();
    expect(a2.state).toBe('fulfilled');
    b.release();
    (a2.value as Permit).release();
    expect(sem.activeKeys).toBe(0);
  });

  it('runs work under the key it is given, and releases it whatever the work does', async () => {
    const sem = new KeyedSemaphore({ limit: 1 });
    const seen: number[] = [];
    const result = await sem.run(
      () => {
        seen.push(sem.inUseOf('a'), sem.inUseOf('b'));
        return 'sung';
      },
      { key: 'a' },
    );
    expect(result).toBe('sung');
    expect(seen).toEqual([1, 0]);
    await expect(
      sem.run(
        () => {
          throw new Error('flat');
        },
        { key: 'a' },
      ),
    ).rejects.toThrow('flat');
    await expect(sem.run(() => 1, {} as never)).rejects.toThrow(/Expected `key` to be a string/);
    expect(sem.counters).toMatchObject({ acquired: 2, released: 2 });
    expect(sem.activeKeys).toBe(0);
  });

  it('bounds each key’s own line with maxQueue, leaving other keys alone', async () => {
    const sem = new KeyedSemaphore({ limit: 1, maxQueue: 1 });
    await sem.acquire({ key: 'a' });
    const a2 = track(sem.acquire({ key: 'a' }));
    const a3 = track(sem.acquire({ key: 'a' }));
    await sem.acquire({ key: 'b' });
    const b2 = track(sem.acquire({ key: 'b' }));
    await flush();
    expect(a2.state).toBe('pending');
    expect(a3.error).toMatchObject({ code: 'QUEUE_FULL' });
    expect(b2.state).toBe('pending');
    expect(sem.counters.rejected.queue_full).toBe(1);
  });

  it('leaves no key behind after 100,000 distinct keys were acquired and released', async () => {
    const sem = new KeyedSemaphore({ limit: 1, totalLimit: 10 });
    for (let i = 0; i < 100_000; i++) {
      const permit = await sem.acquire({ key: `tenant-${i}` });
      permit.release();
    }
    expect(sem.activeKeys).toBe(0);
    expect(sem.counters).toMatchObject({ acquired: 100_000, released: 100_000 });
  });

  it('drops a key as soon as it is idle, whichever way its last waiter left', async () => {
    const sem = new KeyedSemaphore({ limit: 1, maxQueue: 0 });
    const held = await sem.acquire({ key: 'a' });
    await expect(sem.acquire({ key: 'b', signal: AbortSignal.abort() })).rejects.toThrow();
    expect(sem.tryAcquire(1, 'a')).toBeUndefined();
    await expect(sem.acquire({ key: 'a' })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    await expect(sem.acquire({ key: 'c', weight: 2 })).rejects.toThrow(RangeError);
    expect(sem.activeKeys).toBe(1);
    held.release();
    expect(sem.activeKeys).toBe(0);
  });

  it('reads one key’s numbers without making the key', async () => {
    const sem = new KeyedSemaphore({ limit: 1 });
    expect(sem.inUseOf('nobody')).toBe(0);
    expect(sem.waitingOf('nobody')).toBe(0);
    expect(sem.activeKeys).toBe(0);
    const held = await sem.acquire({ key: 'a' });
    const waiter = track(sem.acquire({ key: 'a' }));
    expect(sem.inUseOf('a')).toBe(1);
    expect(sem.waitingOf('a')).toBe(1);
    held.release();
    await flush();
    (waiter.value as Permit).release();
    expect(sem.inUseOf('a')).toBe(0);
  });

  it('adds up the counters of every key, also of keys already dropped', async () => {
    const sem = new KeyedSemaphore({ limit: 1, maxQueue: 0 });
    const a = await sem.acquire({ key: 'a' });
    await expect(sem.acquire({ key: 'a' })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    a.release();
    (await sem.acquire({ key: 'b' })).release();
    expect(sem.counters).toEqual({
      acquired: 2,
      released: 2,
      rejected: { queue_full: 1, timeout: 0, aborted: 0, closed: 0, unavailable: 0 },
    });
  });

  it('reports each admission’s wait to onWait, 0 when it did not queue', async () => {
    const sem = new KeyedSemaphore({ limit: 1, totalLimit: 1 });
    const waits: number[] = [];
    sem.onWait((ms) => waits.push(ms));
    const a = await sem.acquire({ key: 'a' });
    const b = track(sem.acquire({ key: 'b' }));
    a.release();
    await flush();
    (b.value as Permit).release();
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBe(0);
    expect(waits[1]).toBeGreaterThanOrEqual(0);
  });

  it('grows each key’s limit with setLimit, admitting waiters at once', async () => {
    const sem = new KeyedSemaphore({ limit: 1, totalLimit: 3 });
    await sem.acquire({ key: 'a' });
    const a2 = track(sem.acquire({ key: 'a' }));
    const a3 = track(sem.acquire({ key: 'a' }));
    const a4 = track(sem.acquire({ key: 'a' }));
    sem.setLimit(3);
    await flush();
    expect([a2.state, a3.state, a4.state]).toEqual(['fulfilled', 'fulfilled', 'pending']);
    expect(sem.inUse).toBe(3);
  });

  it('shrinks with setLimit: takes nothing back, refuses waiters heavier than the new limit', async () => {
    const sem = new KeyedSemaphore({ limit: 3 });
    const held = await sem.acquire({ key: 'a', weight: 3 });
    const heavy = track(sem.acquire({ key: 'a', weight: 2 }));
    const light = track(sem.acquire({ key: 'a' }));
    sem.setLimit(1);
    await flush();
    expect(heavy.error).toMatchObject({ code: 'QUEUE_FULL' });
    expect(sem.counters.rejected.queue_full).toBe(1);
    expect(light.state).toBe('pending');
    expect(sem.inUse).toBe(3);
    held.release();
    await flush();
    expect(light.state).toBe('fulfilled');
  });

  it('closes every key: waiters and later acquires reject, held permits stay valid until idle', async () => {
    const sem = new KeyedSemaphore({ limit: 1, totalLimit: 2, name: 'tenants' });
    const a = await sem.acquire({ key: 'a' });
    const b = track(sem.acquire({ key: 'b' }));
    const a2 = track(sem.acquire({ key: 'a' }));
    await flush();
    const reason = new Error('shutting down');
    const idle = track(sem.idle());
    await sem.close(reason);
    await flush();
    expect(b.state).toBe('fulfilled');
    expect(a2.error).toBeInstanceOf(LimiterClosedError);
    expect((a2.error as Error).cause).toBe(reason);
    await expect(sem.acquire({ key: 'c' })).rejects.toMatchObject({
      code: 'CLOSED',
      limiter: 'tenants',
    });
    expect(sem.tryAcquire(1, 'c')).toBeUndefined();
    expect(sem.waitingKeys).toBe(0);
    expect(idle.state).toBe('pending');
    a.release();
    (b.value as Permit).release();
    await flush();
    expect(idle.state).toBe('fulfilled');
    expect(sem.activeKeys).toBe(0);
    expect(sem.counters.rejected.closed).toBe(2);
  });

  it('closes at the end of an await using block', async () => {
    let outer: KeyedSemaphore | undefined;
    {
      await using sem = new KeyedSemaphore({ limit: 1 });
      outer = sem;
    }
    expect(outer.isClosed).toBe(true);
  });
});
