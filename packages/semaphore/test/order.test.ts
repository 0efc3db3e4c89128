import { type AcquireOptions, type Permit, Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { admissionOrder, flush, type Tracked, track } from './helpers.js';

/** Queues one waiter per label, in the order given, behind a held permit of a limit-1 semaphore. */
function queue(sem: Semaphore, entries: Array<[string, AcquireOptions?]>) {
  const waiters: Record<string, Tracked<Permit>> = {};
  for (const [label, options] of entries) waiters[label] = track(sem.acquire(options));
  return waiters;
}

describe('order', () => {
  it('serves waiters in strict FIFO order by default', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const waiters = queue(sem, [['a'], ['b'], ['c'], ['d']]);
    expect(await admissionOrder(holder, waiters)).toEqual(['a', 'b', 'c', 'd']);
  });

  it("serves the newest waiter first with order: 'lifo'", async () => {
    const sem = new Semaphore({ limit: 1, order: 'lifo' });
    const holder = await sem.acquire();
    const waiters = queue(sem, [['a'], ['b'], ['c'], ['d']]);
    expect(await admissionOrder(holder, waiters)).toEqual(['d', 'c', 'b', 'a']);
  });

  it("accepts order: 'fifo' explicitly", async () => {
    const sem = new Semaphore({ limit: 1, order: 'fifo' });
    const holder = await sem.acquire();
    const waiters = queue(sem, [['a'], ['b'], ['c']]);
    expect(await admissionOrder(holder, waiters)).toEqual(['a', 'b', 'c']);
  });

  it('serves higher priority first, whatever the arrival order', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const waiters = queue(sem, [
      ['p0', { priority: 0 }],
      ['p5', { priority: 5 }],
      ['p-3', { priority: -3 }],
      ['p2.5', { priority: 2.5 }],
      ['p10', { priority: 10 }],
      ['default'],
    ]);
    expect(await admissionOrder(holder, waiters)).toEqual([
      'p10',
      'p5',
      'p2.5',
      'p0',
      'default',
      'p-3',
    ]);
  });

  it('breaks priority ties in FIFO order by default', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const waiters = queue(sem, [
      ['low1', { priority: 1 }],
      ['high1', { priority: 7 }],
      ['low2', { priority: 1 }],
      ['high2', { priority: 7 }],
      ['zero1'],
      ['high3', { priority: 7 }],
      ['zero2'],
    ]);
    expect(await admissionOrder(holder, waiters)).toEqual([
      'high1',
      'high2',
      'high3',
      'low1',
      'low2',
      'zero1',
      'zero2',
    ]);
  });

  it("breaks priority ties in LIFO order with order: 'lifo'", async () => {
    const sem = new Semaphore({ limit: 1, order: 'lifo' });
    const holder = await sem.acquire();
    const waiters = queue(sem, [
      ['low1', { priority: 1 }],
      ['high1', { priority: 7 }],
      ['low2', { priority: 1 }],
      ['high2', { priority: 7 }],
      ['zero1'],
      ['high3', { priority: 7 }],
      ['zero2'],
      ['neg1', { priority: -1 }],
      ['neg2', { priority: -1 }],
    ]);
    expect(await admissionOrder(holder, waiters)).toEqual([
      'high3',
      'high2',
      'high1',
      'low2',
      'low1',
      'zero2',
      'zero1',
      'neg2',
      'neg1',
    ]);
  });

  it('keeps the priority order when waiters arrive while others are being served', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const first = queue(sem, [
      ['a1', { priority: 1 }],
      ['a3', { priority: 3 }],
    ]);
    holder.release();
    await flush();
    expect(first['a3']?.state).toBe('fulfilled');
    const later = queue(sem, [
      ['b2', { priority: 2 }],
      ['b1', { priority: 1 }],
    ]);
    const all = { ...first, ...later };
    delete all['a3'];
    expect(await admissionOrder(first['a3']!.result, all)).toEqual(['b2', 'a1', 'b1']);
  });

  it('admits at once a higher-priority newcomer that fits, although lower-priority waiters are blocked', async () => {
    const sem = new Semaphore({ limit: 4 });
    const holder = await sem.acquire({ weight: 2 });
    const heavy = track(sem.acquire({ weight: 3 }));
    const vip = track(sem.acquire({ weight: 2, priority: 1 }));
    await flush();
    expect(vip.state).toBe('fulfilled');
    expect(heavy.state).toBe('pending');
    expect(sem.inUse).toBe(4);
    expect(sem.waiting).toBe(1);
    holder.release();
    vip.result.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
  });

  it('queues a higher-priority newcomer that does not fit ahead of lower-priority waiters', async () => {
    const sem = new Semaphore({ limit: 2 });
    const a = await sem.acquire();
    const b = await sem.acquire();
    const low = track(sem.acquire());
    const high = track(sem.acquire({ priority: 1 }));
    await flush();
    expect(high.state).toBe('pending');
    a.release();
    await flush();
    expect(high.state).toBe('fulfilled');
    expect(low.state).toBe('pending');
    b.release();
    await flush();
    expect(low.state).toBe('fulfilled');
  });

  it('does not let lighter lower-priority waiters overtake a heavy high-priority head', async () => {
    const sem = new Semaphore({ limit: 4 });
    const holders = [await sem.acquire({ weight: 2 }), await sem.acquire(), await sem.acquire()];
    const light = track(sem.acquire({ weight: 1 }));
    const heavy = track(sem.acquire({ weight: 3, priority: 1 }));
    holders[0]?.release();
    await flush();
    // Two units are free: enough for `light`, not for `heavy`, which is first in line.
    expect(sem.available).toBe(2);
    expect(light.state).toBe('pending');
    expect(heavy.state).toBe('pending');
    holders[1]?.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
    expect(light.state).toBe('pending');
    holders[2]?.release();
    await flush();
    expect(light.state).toBe('fulfilled');
  });

  it("admits at once, with order: 'lifo', a newcomer that fits while an older heavy waiter is blocked", async () => {
    const sem = new Semaphore({ limit: 3, order: 'lifo' });
    const holder = await sem.acquire();
    const heavy = track(sem.acquire({ weight: 3 }));
    const newcomer = track(sem.acquire({ weight: 2 }));
    await flush();
    expect(newcomer.state).toBe('fulfilled');
    expect(heavy.state).toBe('pending');
    holder.release();
    newcomer.result.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
  });

  it('admits a higher-priority newcomer that fits even when the queue is full (it never waits)', async () => {
    const sem = new Semaphore({ limit: 4, maxQueue: 1 });
    const holder = await sem.acquire({ weight: 2 });
    const heavy = track(sem.acquire({ weight: 3 }));
    const vip = track(sem.acquire({ weight: 2, priority: 1 }));
    await flush();
    expect(vip.state).toBe('fulfilled');
    expect(heavy.state).toBe('pending');
    expect(sem.counters.rejected.queue_full).toBe(0);
    holder.release();
    vip.result.release();
    await flush();
    expect(heavy.state).toBe('fulfilled');
  });

  it("admits, with order: 'lifo', a newcomer that fits even when the queue is full", async () => {
    const sem = new Semaphore({ limit: 3, order: 'lifo', maxQueue: 1 });
    await sem.acquire();
    const heavy = track(sem.acquire({ weight: 3 }));
    const newcomer = track(sem.acquire({ weight: 2 }));
    const tooHeavy = track(sem.acquire({ weight: 2 }));
    await flush();
    expect(newcomer.state).toBe('fulfilled');
    expect(heavy.state).toBe('pending');
    expect(tooHeavy.error).toMatchObject({ code: 'QUEUE_FULL' });
  });
});
