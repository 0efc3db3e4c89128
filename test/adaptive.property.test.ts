/**
 * Property tests of AdaptiveSemaphore: whatever the sequence of acquires,
 * releases with any outcome, hold times and algorithm answers, the limit
 * stays inside [minLimit, maxLimit], the units held are exactly those of the
 * permits not yet released, and once everything is released nothing is held,
 * queued or unbalanced.
 */
import {
  AdaptiveSemaphore,
  createAimd,
  createGradient2,
  createVegas,
  type LimitAlgorithm,
} from '@doorman/adaptive';
import { isDoormanError, type Permit, type ReleaseOutcome } from '@doorman/semaphore';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type Op =
  | { kind: 'acquire'; weight: number; priority: number }
  | { kind: 'tryAcquire'; weight: number }
  | { kind: 'release'; pick: number; outcome: ReleaseOutcome }
  | { kind: 'advance'; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('acquire' as const),
    weight: fc.integer({ min: 1, max: 3 }),
    priority: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({ kind: fc.constant('tryAcquire' as const), weight: fc.integer({ min: 1, max: 3 }) }),
  fc.record({
    kind: fc.constant('release' as const),
    pick: fc.nat(),
    outcome: fc.constantFrom<ReleaseOutcome>('success', 'dropped', 'ignored'),
  }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 500 }) }),
);

/** An algorithm that answers whatever fast-check hands it: huge, negative, fractional, NaN. */
function chaotic(answers: number[]): LimitAlgorithm {
  let i = 0;
  return {
    name: 'chaotic',
    create: () => ({
      onSample: () => answers[i++ % answers.length] as number,
    }),
  };
}

const small = { minWindow: 2, minLatencyWindows: 3, remeasureEvery: 2 };
const algorithms = fc.oneof(
  fc.constant(createGradient2(small)),
  fc.constant(createAimd(small)),
  fc.constant(createVegas(small)),
  fc
    .array(fc.oneof(fc.double(), fc.integer({ min: -5, max: 50 })), { minLength: 1, maxLength: 8 })
    .map(chaotic),
);

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('AdaptiveSemaphore properties', () => {
  it('keeps the limit in bounds and the permits balanced under any sequence', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 8 }),
        algorithms,
        fc.constantFrom<'fifo' | 'lifo'>('fifo', 'lifo'),
        fc.array(op, { maxLength: 120 }),
        async (minLimit, aboveMin, startAbove, algorithm, order, ops) => {
          const maxLimit = minLimit + aboveMin;
          const initialLimit = Math.min(maxLimit, minLimit + startAbove);
          const limiter = new AdaptiveSemaphore({
            initialLimit,
            minLimit,
            maxLimit,
            algorithm,
            order,
          });
          const held: Permit[] = [];
          const released = new Set<Permit>();
          let acquires = 0;
          let settled = 0;
          const check = () => {
            expect(limiter.limit).toBeGreaterThanOrEqual(minLimit);
            expect(limiter.limit).toBeLessThanOrEqual(maxLimit);
            expect(Number.isInteger(limiter.limit)).toBe(true);
            const live = held.filter((p) => !released.has(p));
            expect(limiter.inUse).toBe(live.reduce((sum, p) => sum + p.weight, 0));
            const c = limiter.counters;
            expect(c.acquired - c.released).toBe(live.length);
          };
          for (const step of ops) {
            switch (step.kind) {
              case 'acquire':
                // A weight above the limit now is refused (RangeError); a
                // waiter heavier than a limit that later shrank is refused
                // then (QUEUE_FULL: the line has no room for it).
                acquires++;
                limiter.acquire({ weight: step.weight, priority: step.priority }).then(
                  (p) => {
                    held.push(p);
                    settled++;
                  },
                  (error: unknown) => {
                    if (!(error instanceof RangeError)) {
                      expect(isDoormanError(error, 'QUEUE_FULL')).toBe(true);
                    }
                    settled++;
                  },
                );
                break;
              case 'tryAcquire': {
                if (step.weight > limiter.limit) {
                  expect(() => limiter.tryAcquire(step.weight)).toThrow(RangeError);
                  break;
                }
                const p = limiter.tryAcquire(step.weight);
                if (p !== undefined) held.push(p);
                break;
              }
              case 'release': {
                if (held.length === 0) break;
                const p = held[step.pick % held.length] as Permit;
                p.release(step.outcome);
                released.add(p);
                break;
              }
              case 'advance':
                vi.advanceTimersByTime(step.ms);
                break;
            }
            await flush();
            check();
          }
          // Release everything, over and over, until the line is empty too.
          for (let round = 0; round < 1000 && (limiter.inUse > 0 || limiter.waiting > 0); round++) {
            for (const p of held) {
              if (!released.has(p)) {
                p.release('success');
                released.add(p);
              }
            }
            await flush();
            check();
          }
          expect(limiter.inUse).toBe(0);
          expect(limiter.waiting).toBe(0);
          const c = limiter.counters;
          expect(c.acquired).toBe(c.released);
          expect(c.acquired).toBe(held.length);
          // Every acquire was answered: admitted or refused, none left hanging.
          expect(settled).toBe(acquires);
          await limiter.close();
          await limiter.idle();
        },
      ),
      { numRuns: 200 },
    );
  });
});
