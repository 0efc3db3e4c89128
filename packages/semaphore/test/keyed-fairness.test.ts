import { KeyedSemaphore, type Permit } from '@doorman/semaphore';
import { describe, expect, it, vi } from 'vitest';
import { flush, type Tracked, track } from './helpers.js';

/** Queues one acquire per entry: [label, key, weight?, priority?]. */
function queue(
  sem: KeyedSemaphore,
  entries: Array<[label: string, key: string, weight?: number, priority?: number]>,
) {
  const waiters = new Map<string, Tracked<Permit>>();
  for (const [label, key, weight, priority] of entries) {
    waiters.set(label, track(sem.acquire({ key, weight: weight ?? 1, priority: priority ?? 0 })));
  }
  return waiters;
}

/**
 * Releases the holders one at a time, then every permit as soon as it is
 * granted, one per step, and returns the labels in the order they were
 * admitted. With one unit freed per step, this is the order of turns.
 */
async function turns(holders: Permit[], waiters: Map<string, Tracked<Permit>>): Promise<string[]> {
  const order: string[] = [];
  const toRelease = [...holders];
  while (toRelease.length > 0) {
    (toRelease.shift() as Permit).release();
    await flush();
    for (const [label, t] of waiters) {
      if (t.state === 'fulfilled' && !order.includes(label)) {
        order.push(label);
        toRelease.push(t.value as Permit);
      }
    }
  }
  return order;
}

describe('KeyedSemaphore fair shares (totalLimit)', () => {
  it('holds at most totalLimit over all keys, and at most limit per key', async () => {
    const sem = new KeyedSemaphore({ limit: 2, totalLimit: 3 });
    const a = [track(sem.acquire({ key: 'a' })), track(sem.acquire({ key: 'a' }))];
    const a3 = track(sem.acquire({ key: 'a' }));
    const b = [track(sem.acquire({ key: 'b' })), track(sem.acquire({ key: 'b' }))];
    await flush();
    expect(a.map((t) => t.state)).toEqual(['fulfilled', 'fulfilled']);
    expect(a3.state).toBe('pending');
    expect(b.map((t) => t.state)).toEqual(['fulfilled', 'pending']);
    expect(sem.inUse).toBe(3);
    expect(sem.inUseOf('a')).toBe(2);
    expect(sem.inUseOf('b')).toBe(1);
    expect(sem.waiting).toBe(2);
  });

  it('serves a key that arrives behind a flooding key before the flooder’s later waiters', async () => {
    const sem = new KeyedSemaphore({ limit: 10, totalLimit: 2 });
    const holders = [await sem.acquire({ key: 'A' }), await sem.acquire({ key: 'A' })];
    const waiters = queue(sem, [
      ['a1', 'A'],
      ['a2', 'A'],
      ['a3', 'A'],
      ['a4', 'A'],
      ['b1', 'B'],
      ['b2', 'B'],
      ['c1', 'C'],
    ]);
    // A waited first, so it has the first turn; then the keys alternate.
    expect(await turns(holders, waiters)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
  });

  it('makes a heavy request cost its key as many turns as its weight', async () => {
    const sem = new KeyedSemaphore({ limit: 3, totalLimit: 3 });
    const holders = [await sem.acquire({ key: 'x', weight: 3 })];
    const waiters = queue(sem, [
      ['h1', 'H', 3],
      ['h2', 'H', 3],
      ['l1', 'L'],
      ['l2', 'L'],
      ['l3', 'L'],
      ['l4', 'L'],
      ['l5', 'L'],
      ['l6', 'L'],
    ]);
    // Per unit of credit: H needs three turns for each of its requests, L one.
    expect(await turns(holders, waiters)).toEqual(['l1', 'l2', 'h1', 'l3', 'l4', 'l5', 'h2', 'l6']);
  });

  it('never lets lighter keys overtake a heavy waiter whose turn has come', async () => {
    const sem = new KeyedSemaphore({ limit: 4, totalLimit: 4 });
    const small = [await sem.acquire({ key: 'x' }), await sem.acquire({ key: 'x' })];
    const big = await sem.acquire({ key: 'y', weight: 2 });
    const heavy = track(sem.acquire({ key: 'H', weight: 3 }));
    await flush();
    // H earns its three units of credit at once: nobody else waits.
    (small[0] as Permit).release();
    await flush();
    expect(heavy.state).toBe('pending');
    const light = track(sem.acquire({ key: 'L' }));
    await flush();
    expect(light.state).toBe('pending'); // 2 units free, but H's turn has come
    big.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
    expect(light.state).toBe('pending'); // full again: 1 + 3 units
    (small[1] as Permit).release();
    await flush();
    expect(light.state).toBe('fulfilled');
  });

  it('keeps priority and order within a key', async () => {
    const sem = new KeyedSemaphore({ limit: 1, totalLimit: 1, order: 'lifo' });
    const holders = [await sem.acquire({ key: 'x' })];
    const waiters = queue(sem, [
      ['a-old', 'A'],
      ['a-new', 'A'],
      ['b-low', 'B', 1, 0],
      ['b-high', 'B', 1, 5],
    ]);
    expect(await turns(holders, waiters)).toEqual(['a-new', 'b-high', 'a-old', 'b-low']);
  });

  it('queues a newcomer while another key waits for its turn, even with units free', async () => {
    const sem = new KeyedSemaphore({ limit: 3, totalLimit: 3 });
    const held = await sem.acquire({ key: 'x', weight: 2 });
    const heavy = track(sem.acquire({ key: 'H', weight: 2 }));
    const newcomer = track(sem.acquire({ key: 'N' }));
    await flush();
    expect(sem.inUse).toBe(2); // one unit free, yet N waits behind H's turn
    expect(newcomer.state).toBe('pending');
    held.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
    expect(newcomer.state).toBe('fulfilled');
  });

  it('lets tryAcquire take nothing while a key waits for its turn', async () => {
    const sem = new KeyedSemaphore({ limit: 3, totalLimit: 3 });
    const held = await sem.acquire({ key: 'x', weight: 2 });
    const heavy = track(sem.acquire({ key: 'H', weight: 2 }));
    await flush();
    expect(sem.tryAcquire(1, 'other')).toBeUndefined();
    held.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
    expect(sem.tryAcquire(1, 'other')).toBeDefined();
  });

  it.each(['aborts', 'times out'])(
    'passes the turn on when the waiter whose turn it is %s',
    async (how) => {
      vi.useFakeTimers();
      try {
        const sem = new KeyedSemaphore({ limit: 2, totalLimit: 2 });
        const held = await sem.acquire({ key: 'x', weight: 2 });
        const controller = new AbortController();
        const heavy = track(
          sem.acquire(
            how === 'aborts'
              ? { key: 'H', weight: 2, signal: controller.signal }
              : { key: 'H', weight: 2, timeoutMs: 100 },
          ),
        );
        const light = track(sem.acquire({ key: 'L' }));
        held.release();
        await flush();
        expect(light.state).toBe('fulfilled'); // L's turn came first: H needs two
        const newcomer = track(sem.acquire({ key: 'N' }));
        await flush();
        expect(newcomer.state).toBe('pending'); // H's turn has come: N waits behind it
        if (how === 'aborts') controller.abort();
        else vi.advanceTimersByTime(100);
        await flush();
        expect(heavy.state).toBe('rejected');
        expect(newcomer.state).toBe('fulfilled');
        (light.value as Permit).release();
        (newcomer.value as Permit).release();
        await sem.idle();
        expect(sem.activeKeys).toBe(0);
        expect(sem.counters).toMatchObject({ acquired: 3, released: 3 });
      } finally {
        vi.useRealTimers();
      }
    },
  );

  it('caps each key by totalLimit when it is below limit', async () => {
    const sem = new KeyedSemaphore({ limit: 5, totalLimit: 2 });
    expect(sem.totalLimit).toBe(2);
    const permits = [sem.tryAcquire(1, 'a'), sem.tryAcquire(1, 'a'), sem.tryAcquire(1, 'a')];
    expect(permits.map((p) => p !== undefined)).toEqual([true, true, false]);
    await expect(sem.acquire({ key: 'a', weight: 3 })).rejects.toThrow(
      new RangeError(
        'Expected `weight` to be an integer from 1 to totalLimit (2), got `3` (number)',
      ),
    );
  });

  it('reports Infinity as totalLimit when none is set', () => {
    expect(new KeyedSemaphore({ limit: 2 }).totalLimit).toBe(Number.POSITIVE_INFINITY);
  });

  it('counts keys that hold or wait, and keys that wait, as live numbers', async () => {
    const sem = new KeyedSemaphore({ limit: 1, totalLimit: 2 });
    const a = await sem.acquire({ key: 'a' });
    const b = await sem.acquire({ key: 'b' });
    const a2 = track(sem.acquire({ key: 'a' }));
    const c = track(sem.acquire({ key: 'c' }));
    const c2 = track(sem.acquire({ key: 'c' }));
    await flush();
    expect({ active: sem.activeKeys, waitingKeys: sem.waitingKeys, waiting: sem.waiting }).toEqual({
      active: 3,
      waitingKeys: 2,
      waiting: 3,
    });
    a.release();
    b.release();
    await flush();
    expect(a2.state).toBe('fulfilled');
    expect(c.state).toBe('fulfilled');
    expect({ active: sem.activeKeys, waitingKeys: sem.waitingKeys }).toEqual({
      active: 2,
      waitingKeys: 1,
    });
    (a2.value as Permit).release();
    (c.value as Permit).release();
    await flush();
    (c2.value as Permit).release();
    expect({ active: sem.activeKeys, waitingKeys: sem.waitingKeys }).toEqual({
      active: 0,
      waitingKeys: 0,
    });
  });
});

describe('KeyedSemaphore waiters that give up', () => {
  const positions = [
    ['head', ['a1', 'a2', 'a3'], 'a1'],
    ['middle', ['a1', 'a2', 'a3'], 'a2'],
    ['tail', ['a1', 'a2', 'a3'], 'a3'],
    ['the only waiter', ['a1'], 'a1'],
  ] as const;

  for (const how of ['aborts', 'times out'] as const) {
    it.each(positions)(
      `leaves no trace when the waiter at the %s ${how}`,
      async (_position, labels, leaving) => {
        vi.useFakeTimers();
        try {
          const sem = new KeyedSemaphore({ limit: 1, totalLimit: 2 });
          const holders = [await sem.acquire({ key: 'a' }), await sem.acquire({ key: 'b' })];
          const controllers = new Map<string, AbortController>();
          const waiters = new Map<string, Tracked<Permit>>();
          for (const label of labels) {
            const controller = new AbortController();
            controllers.set(label, controller);
            const timed = how === 'times out' && label === leaving;
            waiters.set(
              label,
              track(
                sem.acquire(
                  timed ? { key: 'a', timeoutMs: 10 } : { key: 'a', signal: controller.signal },
                ),
              ),
            );
          }
          const other = track(sem.acquire({ key: 'b' }));
          if (how === 'aborts') controllers.get(leaving)?.abort();
          else vi.advanceTimersByTime(10);
          await flush();
          expect(waiters.get(leaving)?.state).toBe('rejected');
          expect(sem.waitingOf('a')).toBe(labels.length - 1);
          expect(sem.waiting).toBe(labels.length);
          // The rest are served in turn, a and b alternating, as if it had never queued.
          const order = await turns(holders, new Map([...waiters, ['b2', other]]));
          const stayed = labels.filter((l) => l !== leaving);
          expect(order.filter((l) => l !== 'b2')).toEqual(stayed);
          expect(order).toContain('b2');
          expect(sem.activeKeys).toBe(0);
          const c = sem.counters;
          expect(c.acquired).toBe(c.released);
          expect(how === 'aborts' ? c.rejected.aborted : c.rejected.timeout).toBe(1);
        } finally {
          vi.useRealTimers();
        }
      },
    );
  }
});
