/**
 * The round robin of KeyedSemaphore, pinned without a model: requests of
 * several keys queue behind a full totalLimit, permits come back one at a
 * time, and the order of admissions must take the keys in turn (by units).
 */
import { KeyedSemaphore, type Permit } from '@doorman/semaphore';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const int = (min: number, max: number) => fc.noBias(fc.integer({ min, max }));

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/**
 * The round robin on its own: every key queues its requests behind a full
 * totalLimit at once, then permits come back one at a time, oldest first.
 * Returns the admissions in order, as [key, weight].
 */
async function drainInTurns(
  total: number,
  arrivals: Array<[key: string, weight: number]>,
): Promise<Array<[string, number]>> {
  const sem = new KeyedSemaphore({ limit: total, totalLimit: total });
  const held: Permit[] = [];
  for (let i = 0; i < total; i++) held.push(await sem.acquire({ key: 'first' }));
  const order: Array<[string, number]> = [];
  for (const [key, weight] of arrivals) {
    void sem.acquire({ key, weight }).then((permit) => {
      order.push([key, weight]);
      held.push(permit);
    });
  }
  while (held.length > 0) {
    (held.shift() as Permit).release();
    await flushMicrotasks();
  }
  expect(sem.waiting, 'every request was admitted').toBe(0);
  expect(sem.activeKeys).toBe(0);
  return order;
}

const arrivalsArb = (maxWeight: number) =>
  fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), int(1, maxWeight)), {
    minLength: 1,
    maxLength: 60,
  });

/** The index of each key's last admission: until then, the key was waiting. */
function lastAdmission(order: Array<[string, number]>): Map<string, number> {
  const last = new Map<string, number>();
  order.forEach(([key], i) => {
    last.set(key, i);
  });
  return last;
}

describe('KeyedSemaphore round robin', () => {
  it('admits every waiting key once between two admissions of any one key', async () => {
    await fc.assert(
      fc.asyncProperty(int(1, 4), arrivalsArb(1), async (total, arrivals) => {
        const order = await drainInTurns(total, arrivals);
        const last = lastAdmission(order);
        const previous = new Map<string, number>();
        order.forEach(([key], i) => {
          const before = previous.get(key);
          if (before !== undefined) {
            // Every other key still waiting at i was waiting throughout (before, i).
            for (const [other, lastIndex] of last) {
              if (other === key || lastIndex < i) continue;
              const served = order.slice(before + 1, i).some(([k]) => k === other);
              expect(served, `${other} skipped between ${key}'s turns at ${before} and ${i}`).toBe(
                true,
              );
            }
          }
          previous.set(key, i);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('shares units, not requests: two waiting keys never drift more than a few weights apart', async () => {
    const maxWeight = 3;
    await fc.assert(
      fc.asyncProperty(int(maxWeight, 5), arrivalsArb(maxWeight), async (total, arrivals) => {
        const order = await drainInTurns(total, arrivals);
        const last = lastAdmission(order);
        const units = new Map<string, number>();
        order.forEach(([key, weight], i) => {
          units.set(key, (units.get(key) ?? 0) + weight);
          // Among the keys still waiting after admission i, the units admitted so far stay close.
          const waiting = [...last].filter(([, lastIndex]) => lastIndex > i).map(([k]) => k);
          const counts = waiting.map((k) => units.get(k) ?? 0);
          if (counts.length > 1) {
            expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(3 * maxWeight);
          }
        });
      }),
      { numRuns: 300 },
    );
  });
});
