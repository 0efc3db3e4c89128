/**
 * A backend that thrashes past its capacity, on a virtual clock: no timers,
 * no real time, the same numbers on every run.
 *
 * `clients` callers each send a request, wait for its answer and send the
 * next at once (a closed loop); admission is up to the controller's limit,
 * the rest wait in line. A request's service time is fixed when it starts:
 * `baseMs x max(1, (inFlight / C)^2)` with `inFlight` counting itself and `C`
 * the capacity at that moment, so the best throughput is at exactly C in
 * flight. `noise` multiplies each service time by a seeded random factor in
 * [1, 1 + noise). Every answer goes to `controller.onSample`, whose limit
 * (rounded and clamped, as `AdaptiveSemaphore` does) applies at once.
 */
import type { LimitAlgorithm, LimitController } from '@doorman/adaptive';

export interface Phase {
  /** Length of the phase in virtual ms. */
  readonly ms: number;
  /** Best concurrency of the backend. */
  readonly capacity: number;
  /** Callers in the closed loop: Infinity (the default) keeps the line full; 0 is idle. */
  readonly clients?: number;
  /** Share of answers that are errors ('dropped'), drawn at random. Default 0. */
  readonly dropRate?: number;
  /** Added to every latency in this phase, whatever the crowd (a busier host). Default 0. */
  readonly extraMs?: number;
}

export interface SimulationOptions {
  readonly initialLimit: number;
  readonly minLimit?: number;
  readonly maxLimit?: number;
  readonly baseMs?: number;
  readonly noise?: number;
  /** Added to each latency: a seeded random delay in [0, jitterMs) (a busy event loop). */
  readonly jitterMs?: number;
  /**
   * The whole process stalls for `ms` once every `everyMs` (a busy shared
   * host, a long GC): every call that would end during a stall ends after it.
   */
  readonly stalls?: { readonly everyMs: number; readonly ms: number };
  readonly seed?: number;
}

export interface Trace {
  /** The limit after each answer, with its time: [ms, limit]. */
  readonly limits: Array<[number, number]>;
  /** Answers per phase. */
  readonly completed: number[];
  /** The time of every successful answer, in order. */
  readonly answeredAt: number[];
  readonly controller: LimitController;
  /** The limit at the end. */
  readonly limit: number;
  /** The largest number in flight ever seen. */
  readonly peakInFlight: number;
}

/** Mulberry32: a small seeded generator, enough for noise. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Call {
  readonly start: number;
  readonly end: number;
  readonly inFlight: number;
  readonly dropped: boolean;
}

export function simulate(
  algorithm: LimitAlgorithm,
  phases: readonly Phase[],
  options: SimulationOptions,
): Trace {
  const minLimit = options.minLimit ?? 1;
  const maxLimit = options.maxLimit ?? 1000;
  const baseMs = options.baseMs ?? 20;
  const noise = options.noise ?? 0;
  const jitterMs = options.jitterMs ?? 0;
  const stalls = options.stalls;
  const rand = random(options.seed ?? 1);
  const controller = algorithm.create({
    initialLimit: options.initialLimit,
    minLimit,
    maxLimit,
  });
  let limit = options.initialLimit;
  let now = 0;
  let peakInFlight = 0;
  // Calls in flight, ordered by end time (few enough for a sorted array).
  const running: Call[] = [];
  const limits: Array<[number, number]> = [[0, limit]];
  const completed: number[] = [];
  const answeredAt: number[] = [];
  let phaseStart = 0;
  for (const phase of phases) {
    const phaseEnd = phaseStart + phase.ms;
    const clients = phase.clients ?? Number.POSITIVE_INFINITY;
    let done = 0;
    // Callers not in flight are waiting in line (or thinking, when fewer than the limit).
    const admit = () => {
      while (running.length < limit && running.length < clients) {
        const inFlight = running.length + 1;
        const crowd = Math.max(1, (inFlight / phase.capacity) ** 2);
        const service =
          baseMs * crowd * (1 + noise * rand()) + jitterMs * rand() + (phase.extraMs ?? 0);
        let end = now + service;
        if (stalls !== undefined) {
          // Stalls start at k x everyMs (k >= 1); a call ending inside one ends at its end.
          const k = Math.floor(end / stalls.everyMs);
          const stallStart = k * stalls.everyMs;
          if (k >= 1 && end < stallStart + stalls.ms) end = stallStart + stalls.ms;
        }
        const call: Call = {
          start: now,
          end,
          inFlight,
          dropped: rand() < (phase.dropRate ?? 0),
        };
        let i = running.length;
        while (i > 0 && (running[i - 1] as Call).end > call.end) i--;
        running.splice(i, 0, call);
        if (running.length > peakInFlight) peakInFlight = running.length;
      }
    };
    admit();
    for (;;) {
      const next = running[0];
      if (next === undefined || next.end > phaseEnd) break;
      running.shift();
      now = next.end;
      done++;
      if (!next.dropped) answeredAt.push(now);
      const wanted = controller.onSample(next.end - next.start, next.inFlight, next.dropped, now);
      const clamped = Math.min(maxLimit, Math.max(minLimit, Math.round(wanted)));
      if (clamped !== limit) {
        limit = clamped;
        limits.push([now, limit]);
      }
      admit();
    }
    now = phaseEnd;
    completed.push(done);
    phaseStart = phaseEnd;
  }
  return { limits, completed, answeredAt, controller, limit, peakInFlight };
}

/** The time-weighted mean limit between `fromMs` and `toMs`. */
export function meanLimit(trace: Trace, fromMs: number, toMs: number): number {
  let area = 0;
  const points = trace.limits;
  for (let i = 0; i < points.length; i++) {
    const [t, value] = points[i] as [number, number];
    const end = (points[i + 1] as [number, number] | undefined)?.[0] ?? toMs;
    const a = Math.max(t, fromMs);
    const b = Math.min(end, toMs);
    if (b > a) area += value * (b - a);
  }
  return area / (toMs - fromMs);
}

/** The lowest and highest limit held between `fromMs` and `toMs`. */
export function limitRange(trace: Trace, fromMs: number, toMs: number): [number, number] {
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  const points = trace.limits;
  for (let i = 0; i < points.length; i++) {
    const [t, value] = points[i] as [number, number];
    const end = (points[i + 1] as [number, number] | undefined)?.[0] ?? toMs;
    if (end > fromMs && t < toMs) {
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  return [low, high];
}

/**
 * Successful answers between `fromMs` and `toMs` as a share of the most the
 * backend can give at `capacity` (capacity / baseMs answers per ms).
 */
export function goodputShare(
  trace: Trace,
  fromMs: number,
  toMs: number,
  capacity: number,
  baseMs = 20,
): number {
  let n = 0;
  for (const t of trace.answeredAt) if (t > fromMs && t <= toMs) n++;
  return n / ((capacity / baseMs) * (toMs - fromMs));
}
