// Each algorithm against a simulated backend on a virtual clock (simulate.ts):
// a service whose latency grows with the square of the crowd past capacity C.
import {
  aimd,
  createAimd,
  createGradient2,
  createVegas,
  gradient2,
  type LimitAlgorithm,
  vegas,
} from '@doorman/adaptive';
import { describe, expect, it } from 'vitest';
import { goodputShare, limitRange, meanLimit, type Phase, simulate } from './simulate.js';

/** Where each algorithm settles, as a multiple of C: gradient2 at the knee, the others above it. */
const cases: Array<{ algorithm: LimitAlgorithm; low: number; high: number }> = [
  { algorithm: gradient2, low: 0.9, high: 1.1 },
  // AIMD backs off only at 2x the no-load latency: sqrt(2) x C.
  { algorithm: aimd, low: 1, high: 1.6 },
  // Vegas keeps a small standing queue: a little above C.
  { algorithm: vegas, low: 0.9, high: 1.7 },
];

const noisy = { noise: 0.1, seed: 3 };

describe.each(cases)('$algorithm.name', ({ algorithm, low, high }) => {
  it.each([5, 10, 25, 50, 100])('converges near the capacity (C = %i)', (capacity) => {
    const trace = simulate(algorithm, [{ ms: 30_000, capacity }], { initialLimit: 20, ...noisy });
    const mean = meanLimit(trace, 15_000, 30_000);
    expect(mean).toBeGreaterThanOrEqual(low * capacity);
    expect(mean).toBeLessThanOrEqual(high * capacity);
  });

  it('follows the capacity when it steps up and down (10, 25, 5)', () => {
    const phases: Phase[] = [10, 25, 5].map((capacity) => ({ ms: 20_000, capacity }));
    const trace = simulate(algorithm, phases, { initialLimit: 20, ...noisy });
    phases.forEach((phase, i) => {
      const mean = meanLimit(trace, i * 20_000 + 10_000, (i + 1) * 20_000);
      expect(mean).toBeGreaterThanOrEqual(low * phase.capacity);
      expect(mean).toBeLessThanOrEqual(high * phase.capacity);
    });
  });

  it('never leaves [minLimit, maxLimit], even when the capacity is far outside it', () => {
    const phases: Phase[] = [
      { ms: 60_000, capacity: 1 },
      { ms: 60_000, capacity: 1000 },
      { ms: 60_000, capacity: 1, dropRate: 0.5 },
    ];
    const trace = simulate(algorithm, phases, {
      initialLimit: 10,
      minLimit: 4,
      maxLimit: 40,
      ...noisy,
    });
    const [lowest, highest] = limitRange(trace, 0, 180_000);
    expect(lowest).toBe(4);
    expect(highest).toBe(40);
    expect(trace.peakInFlight).toBeLessThanOrEqual(40);
  });

  it('does not grow while the service is app-limited (traffic uses a fraction of the limit)', () => {
    // A fast service (capacity 1000) but only 8 callers: nothing says a higher limit would help.
    const trace = simulate(algorithm, [{ ms: 60_000, capacity: 1000, clients: 8 }], {
      initialLimit: 20,
      ...noisy,
    });
    const [lowest, highest] = limitRange(trace, 0, 60_000);
    expect(highest).toBe(20);
    // Re-measures at half the limit (10) still admit all 8 callers.
    expect(lowest).toBeGreaterThanOrEqual(10);
    expect(trace.completed[0]).toBeGreaterThan(20_000);
  });

  it('grows only to just above what traffic uses, when it uses nearly all of the limit', () => {
    const trace = simulate(algorithm, [{ ms: 60_000, capacity: 1000, clients: 18 }], {
      initialLimit: 20,
      ...noisy,
    });
    // Growth needs 80% of the limit in use: 18 callers cannot raise it past
    // 22 (18 / 0.8), plus the one step that took it there.
    expect(limitRange(trace, 0, 60_000)[1]).toBeLessThanOrEqual(25);
  });

  it('keeps its limit across an idle spell, and picks up where it was', () => {
    const phases: Phase[] = [
      { ms: 20_000, capacity: 10 },
      { ms: 600_000, capacity: 10, clients: 0 },
      { ms: 1_000, capacity: 10, clients: 2 },
    ];
    const trace = simulate(algorithm, phases, { initialLimit: 20, ...noisy });
    const before = meanLimit(trace, 19_000, 20_000);
    const [lowest, highest] = limitRange(trace, 20_000, 621_000);
    expect(lowest).toBeGreaterThanOrEqual(Math.floor(before) - 1);
    expect(highest).toBeLessThanOrEqual(Math.ceil(before) + 1);
  });

  it("lowers the limit on 'dropped' answers even when latency looks healthy", () => {
    // Capacity far above the limit: latency never rises, only the errors speak.
    const trace = simulate(algorithm, [{ ms: 5_000, capacity: 1000, dropRate: 0.3 }], {
      initialLimit: 50,
      ...noisy,
    });
    expect(trace.limit).toBeLessThan(25);
  });

  it('recovers after a latency spike: the limit comes down, then climbs back', () => {
    const phases: Phase[] = [
      { ms: 20_000, capacity: 40 },
      { ms: 30_000, capacity: 4 },
      { ms: 30_000, capacity: 40 },
    ];
    const trace = simulate(algorithm, phases, { initialLimit: 40, ...noisy });
    // 20 s at up to 14x the capacity (4 s a request) is slow to leave for
    // the step-wise AIMD and Vegas; gradient2 scales in one step.
    const before = meanLimit(trace, 10_000, 20_000);
    expect(meanLimit(trace, 45_000, 50_000)).toBeLessThan(0.7 * before);
    if (algorithm === gradient2) {
      expect(meanLimit(trace, 40_000, 50_000)).toBeLessThanOrEqual(high * 4 + 1);
    }
    expect(meanLimit(trace, 65_000, 80_000)).toBeGreaterThanOrEqual(low * 40);
  });

  it('re-learns the no-load latency when the work itself gets slower for good', () => {
    // Same capacity, twice the base latency from 20 s on (a colder cache).
    const fast = simulate(algorithm, [{ ms: 20_000, capacity: 20 }], {
      initialLimit: 20,
      ...noisy,
    });
    expect(fast.controller.minLatencyMs).toBeGreaterThanOrEqual(20);
    expect(fast.controller.minLatencyMs).toBeLessThan(23);
    const slow = simulate(algorithm, [{ ms: 120_000, capacity: 20 }], {
      initialLimit: 20,
      baseMs: 40,
      ...noisy,
    });
    expect(slow.controller.minLatencyMs).toBeGreaterThanOrEqual(40);
    expect(meanLimit(slow, 60_000, 120_000)).toBeGreaterThanOrEqual(low * 20);
  });
});

describe('gradient2', () => {
  it('starts at 4x the knee and finds it within 3 s', () => {
    const trace = simulate(gradient2, [{ ms: 10_000, capacity: 10 }], {
      initialLimit: 40,
      ...noisy,
    });
    const [lowest, highest] = limitRange(trace, 3_000, 10_000);
    expect(lowest).toBeGreaterThanOrEqual(5); // a re-measure at half the limit
    expect(highest).toBeLessThanOrEqual(11);
  });

  it('keeps >= 90% of the capacity after each step of 10, 25 and 5, past its first 3 s', () => {
    const phases: Phase[] = [10, 25, 5].map((capacity) => ({ ms: 10_000, capacity }));
    const trace = simulate(gradient2, phases, { initialLimit: 20, noise: 0 });
    phases.forEach((phase, i) => {
      expect(
        goodputShare(trace, i * 10_000 + 3_000, (i + 1) * 10_000, phase.capacity),
      ).toBeGreaterThan(0.9);
    });
  });

  it.each([10, 40])(
    'tracks the capacity on a noisy host (each latency + up to %i ms of jitter) instead of ratcheting down',
    (jitterMs) => {
      const phases: Phase[] = [10, 25, 5].map((capacity) => ({ ms: 10_000, capacity }));
      const trace = simulate(gradient2, phases, {
        initialLimit: 20,
        noise: 0.1,
        jitterMs,
        seed: 3,
      });
      phases.forEach((phase, i) => {
        const mean = meanLimit(trace, i * 10_000 + 3_000, (i + 1) * 10_000);
        expect(mean).toBeGreaterThanOrEqual(0.85 * phase.capacity);
        expect(mean).toBeLessThanOrEqual(1.25 * phase.capacity);
      });
    },
  );

  it.each([5, 30])(
    'holds its limit when every latency rises by %i ms whatever the crowd (a busier host), instead of cutting to the floor',
    (extraMs) => {
      const phases: Phase[] = [
        { ms: 10_000, capacity: 10 },
        { ms: 20_000, capacity: 10, extraMs },
      ];
      const trace = simulate(gradient2, phases, { initialLimit: 20, ...noisy });
      const [lowest, highest] = limitRange(trace, 10_000, 30_000);
      expect(lowest).toBeGreaterThanOrEqual(5); // a re-measure at half the limit
      expect(highest).toBeLessThanOrEqual(13);
      expect(meanLimit(trace, 10_000, 30_000)).toBeGreaterThanOrEqual(9);
    },
  );

  it('follows the steps whatever the draw of the noise (8 seeds, jitter up to half the no-load latency)', () => {
    const phases: Phase[] = [10, 25, 5].map((capacity) => ({ ms: 10_000, capacity }));
    for (let seed = 1; seed <= 8; seed++) {
      for (const jitterMs of [0, 10]) {
        const trace = simulate(gradient2, phases, { initialLimit: 20, noise: 0.1, jitterMs, seed });
        phases.forEach((phase, i) => {
          const share = meanLimit(trace, i * 10_000 + 3_000, (i + 1) * 10_000) / phase.capacity;
          expect(
            share,
            `seed ${seed}, jitter ${jitterMs} ms, C = ${phase.capacity}`,
          ).toBeGreaterThan(0.8);
          expect(share, `seed ${seed}, jitter ${jitterMs} ms, C = ${phase.capacity}`).toBeLessThan(
            1.3,
          );
        });
      }
    }
  });

  it.each([
    [1000, 40],
    [500, 40],
  ])(
    'rides out the host stalling (%i ms apart, %i ms long) without losing the capacity',
    (everyMs, ms) => {
      const phases: Phase[] = [10, 25, 5].map((capacity) => ({ ms: 10_000, capacity }));
      const trace = simulate(gradient2, phases, {
        initialLimit: 20,
        noise: 0.1,
        jitterMs: 5,
        seed: 3,
        stalls: { everyMs, ms },
      });
      phases.forEach((phase, i) => {
        const share = meanLimit(trace, i * 10_000 + 3_000, (i + 1) * 10_000) / phase.capacity;
        expect(share, `C = ${phase.capacity}`).toBeGreaterThan(0.8);
        expect(share, `C = ${phase.capacity}`).toBeLessThan(1.3);
      });
    },
  );

  it('learns the no-load latency it reports', () => {
    const trace = simulate(gradient2, [{ ms: 5_000, capacity: 10 }], { initialLimit: 40 });
    expect(trace.controller.minLatencyMs).toBe(20);
    expect(trace.controller.latencyMs).toBeGreaterThanOrEqual(20);
  });
});

describe('algorithm options', () => {
  it('rejects bad settings with the option and the value in the message', () => {
    expect(() => createGradient2({ tolerance: 1 })).toThrow(
      new RangeError('Expected `tolerance` to be a number > 1, got `1` (number)'),
    );
    expect(() => createGradient2({ backoff: 1.5 })).toThrow(
      new RangeError('Expected `backoff` to be a number > 0 and < 1, got `1.5` (number)'),
    );
    expect(() => createGradient2({ probeEvery: 0 })).toThrow(RangeError);
    expect(() => createGradient2({ tolerance: '2' as never })).toThrow(TypeError);
    expect(() => createAimd({ maxLatencyMs: -1 })).toThrow(RangeError);
    expect(() => createAimd({ minWindow: 1.5 })).toThrow(RangeError);
    expect(() => createVegas({ alpha: 4, beta: 3 })).toThrow(
      new RangeError('Expected `beta` to be a number > 4, got `3` (number)'),
    );
    expect(() => createVegas({ remeasureEvery: 0 })).toThrow(RangeError);
    expect(() => createGradient2({ tolerence: 2 } as never)).toThrow(
      /Unknown option `tolerence` in gradient2 options/,
    );
    expect(() => createGradient2(3 as never)).toThrow(TypeError);
  });

  it('a stricter AIMD latency bound keeps the limit lower', () => {
    const loose = simulate(createAimd(), [{ ms: 30_000, capacity: 10 }], { initialLimit: 10 });
    const strict = simulate(createAimd({ maxLatencyMs: 25 }), [{ ms: 30_000, capacity: 10 }], {
      initialLimit: 10,
    });
    expect(meanLimit(strict, 15_000, 30_000)).toBeLessThan(meanLimit(loose, 15_000, 30_000));
  });
});
