/** The range a limit may move in, and where it starts. Integers, `1 <= min <= initial <= max`. */
export interface LimitBounds {
  readonly initialLimit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
}

/**
 * The state of one algorithm for one limiter: it hears every sample and says
 * which limit it wants. `AdaptiveSemaphore` rounds the answer, keeps it inside
 * `[minLimit, maxLimit]`, and ignores an answer that is not a number.
 */
export interface LimitController {
  /**
   * One finished piece of work: it held its permit for `rttMs` (admission to
   * release, on a monotonic clock), `inFlight` units were held just after it
   * was admitted (its own included), `dropped` says it ended in a sign of
   * overload (an error, a 5xx, a timeout), and `nowMs` is the release time on
   * the same clock. Returns the limit wanted from now on. Called once per
   * release, so it must not allocate: keep running numbers or ring buffers.
   */
  onSample(rttMs: number, inFlight: number, dropped: boolean, nowMs: number): number;
  /** The latency it believes the work takes without load, in ms, once it has one. */
  readonly minLatencyMs?: number | undefined;
  /** The latency of its last full window of samples, in ms, once it has one. */
  readonly latencyMs?: number | undefined;
}

/**
 * An adaptive limit algorithm: a name, and a factory of controllers (one per
 * limiter, since each limiter learns on its own). `gradient2`, `aimd` and
 * `vegas` are of this shape; so can a user's own be.
 */
export interface LimitAlgorithm {
  readonly name: string;
  create(bounds: LimitBounds): LimitController;
}
