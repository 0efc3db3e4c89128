import { AsyncLocalStorage } from 'node:async_hooks';
import { type Permit, Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { flush } from './helpers.js';

const als = new AsyncLocalStorage<string>();

describe('async context', () => {
  it("resumes each waiter after `await acquire()` in its own context, not the releaser's", async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await als.run('holder', () => sem.acquire());
    const seen: string[] = [];
    const granted: Permit[] = [];
    const callers = [1, 2, 3, 4].map((i) =>
      als.run(`caller-${i}`, async () => {
        const permit = await sem.acquire();
        seen.push(`caller-${i} sees ${als.getStore()}`);
        granted.push(permit);
      }),
    );
    als.run('releaser-0', () => holder.release());
    for (let n = 1; n <= 4; n++) {
      await flush();
      const permit = granted.shift();
      expect(permit).toBeDefined();
      als.run(`releaser-${n}`, () => permit?.release());
    }
    await Promise.all(callers);
    expect(seen).toEqual([
      'caller-1 sees caller-1',
      'caller-2 sees caller-2',
      'caller-3 sees caller-3',
      'caller-4 sees caller-4',
    ]);
    expect(sem.inUse).toBe(0);
  });

  it('runs fn of run() in the caller’s context when an earlier caller’s release wakes it', async () => {
    const sem = new Semaphore({ limit: 1 });
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        als.run(`request-${i}`, () =>
          sem.run(async () => {
            await Promise.resolve();
            return als.getStore();
          }),
        ),
      ),
    );
    expect(results).toEqual(['request-1', 'request-2', 'request-3', 'request-4', 'request-5']);
  });

  it('keeps the caller’s context in a .then() callback on acquire()', async () => {
    const sem = new Semaphore({ limit: 1 });
    const holder = await sem.acquire();
    const seen = Promise.all(
      ['a', 'b'].map((id) =>
        als.run(id, () =>
          sem.acquire().then((permit) => {
            const store = als.getStore();
            als.run('someone else', () => permit.release());
            return store;
          }),
        ),
      ),
    );
    als.run('releaser', () => holder.release());
    expect(await seen).toEqual(['a', 'b']);
  });

  it('resumes a waiter rejected by another request’s abort or close in its own context', async () => {
    const sem = new Semaphore({ limit: 1 });
    await sem.acquire();
    const controller = new AbortController();
    const catchStore = (id: string, signal?: AbortSignal) =>
      als.run(id, async () => {
        try {
          await sem.acquire(signal ? { signal } : undefined);
          return 'admitted';
        } catch {
          return als.getStore();
        }
      });
    const aborted = catchStore('aborted-waiter', controller.signal);
    const closed = catchStore('closed-waiter');
    als.run('aborter', () => controller.abort());
    await als.run('closer', () => sem.close());
    expect(await aborted).toBe('aborted-waiter');
    expect(await closed).toBe('closed-waiter');
  });
});
