import { Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';

describe('Semaphore (smoke)', () => {
  it('admits up to the limit and queues the rest', async () => {
    const sem = new Semaphore({ limit: 1 });
    const first = await sem.acquire();
    const second = sem.acquire();
    expect(sem.waiting).toBe(1);
    first.release();
    (await second).release();
    expect(sem.inUse).toBe(0);
  });
});
