import {
  type AcquireOptions,
  type Limiter,
  type LimiterCounters,
  type Permit,
  type QueueOrder,
  type ReleaseOutcome,
  Semaphore,
  type WaitListener,
} from '@doorman/semaphore';
import { check, runWithPermit } from '@doorman/semaphore/internal';
import { AdaptivePermit, type SampleSink } from './adaptive-permit.js';
import { aimd } from './aimd.js';
import type { LimitAlgorithm, LimitController } from './algorithm.js';
import { gradient2 } from './gradient2.js';
import { vegas } from './vegas.js';

/** The built-in algorithms by name. */
export type AlgorithmName = 'gradient2' | 'aimd' | 'vegas';

export interface AdaptiveSemaphoreOptions {
  /** The limit before anything is learned. Default 20 (kept inside the bounds). */
  initialLimit?: number;
  /** The limit never goes below this. Default 1. */
  minLimit?: number;
  /** The limit never goes above this. Default 1000. */
  maxLimit?: number;
  /** `'gradient2'` (default), `'aimd'`, `'vegas'`, or a `LimitAlgorithm` of your own. */
  algorithm?: AlgorithmName | LimitAlgorithm;
  /** Most acquirers allowed to wait; beyond it `acquire` rejects with `QueueFullError`. Default: no bound. */
  maxQueue?: number;
  /** Longest wait in the queue before `QueueTimeoutError`, in ms. Default: no timeout. */
  queueTimeoutMs?: number;
  /** `'fifo'` (default) serves the oldest waiter first, `'lifo'` the newest. */
  order?: QueueOrder;
  /** Shown in errors and used as the `limiter` label in metrics. Default `'adaptive'`. */
  name?: string;
}

const optionKeys: ReadonlySet<string> = new Set([
  'initialLimit',
  'minLimit',
  'maxLimit',
  'algorithm',
  'maxQueue',
  'queueTimeoutMs',
  'order',
  'name',
]);

const builtIn: Readonly<Record<AlgorithmName, LimitAlgorithm>> = { gradient2, aimd, vegas };
const algorithmNames = Object.keys(builtIn) as AlgorithmName[];

const now = () => performance.now();

/**
 * A semaphore whose limit finds itself. Each released permit is a sample (how
 * long it was held, and its outcome); the algorithm turns the samples into a
 * limit, which moves inside `[minLimit, maxLimit]`. Queueing, timeouts,
 * aborts, priority, weights and counters are those of the core `Semaphore`
 * it wraps; a lower limit takes nothing back from holders, it only admits
 * nobody until enough have left.
 */
export class AdaptiveSemaphore implements Limiter, AsyncDisposable {
  readonly name: string;
  readonly minLimit: number;
  readonly maxLimit: number;
  /** The name of the algorithm at work. */
  readonly algorithm: string;
  readonly #semaphore: Semaphore;
  readonly #controller: LimitController;
  #warned = false;
  // Where this limiter's permits report their samples: not part of its API.
  readonly #sink: SampleSink = { record: (permit, outcome) => this.#record(permit, outcome) };

  constructor(options?: AdaptiveSemaphoreOptions) {
    const o = check.plainObject('options', options ?? {});
    check.knownKeys('AdaptiveSemaphore options', o, optionKeys);
    this.minLimit =
      o['minLimit'] === undefined ? 1 : check.integerAtLeast('minLimit', o['minLimit'], 1);
    this.maxLimit =
      o['maxLimit'] === undefined
        ? Math.max(1000, this.minLimit)
        : check.integerAtLeast('maxLimit', o['maxLimit'], this.minLimit);
    const initialLimit =
      o['initialLimit'] === undefined
        ? Math.min(this.maxLimit, Math.max(this.minLimit, 20))
        : integerWithin('initialLimit', o['initialLimit'], this.minLimit, this.maxLimit);
    const algorithm = toAlgorithm(o['algorithm']);
    this.algorithm = algorithm.name;
    this.#semaphore = new Semaphore({
      limit: initialLimit,
      ...(o['maxQueue'] === undefined ? {} : { maxQueue: o['maxQueue'] as number }),
      ...(o['queueTimeoutMs'] === undefined
        ? {}
        : { queueTimeoutMs: o['queueTimeoutMs'] as number }),
      ...(o['order'] === undefined ? {} : { order: o['order'] as QueueOrder }),
      name: o['name'] === undefined ? 'adaptive' : (o['name'] as string),
    });
    this.name = this.#semaphore.name;
    this.#controller = algorithm.create(
      Object.freeze({ initialLimit, minLimit: this.minLimit, maxLimit: this.maxLimit }),
    );
    if (typeof this.#controller?.onSample !== 'function') {
      throw new TypeError(
        `Expected \`algorithm.create()\` to return an object with an \`onSample\` method, got ${check.show(this.#controller)}`,
      );
    }
  }

  /** The limit now; it moves. */
  get limit(): number {
    return this.#semaphore.limit;
  }

  /** Units held now. May exceed `limit` for a while after the limit came down. */
  get inUse(): number {
    return this.#semaphore.inUse;
  }

  /** Units free now: `max(0, limit - inUse)`. */
  get available(): number {
    return this.#semaphore.available;
  }

  /** Acquirers in the queue now. */
  get waiting(): number {
    return this.#semaphore.waiting;
  }

  get isClosed(): boolean {
    return this.#semaphore.isClosed;
  }

  get counters(): LimiterCounters {
    return this.#semaphore.counters;
  }

  /** The latency the algorithm believes the work takes without load, in ms (undefined until it knows). */
  get minLatencyMs(): number | undefined {
    const value = this.#controller.minLatencyMs;
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  }

  /** The latency the algorithm measured last (median of its last window), in ms. */
  get latencyMs(): number | undefined {
    const value = this.#controller.latencyMs;
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  }

  /**
   * Takes `weight` units (at most the limit now), waiting in the queue if they
   * are not free; as `Semaphore.acquire`. Release the permit with the outcome
   * of the work: `'success'` (default), `'dropped'` or `'ignored'`.
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    if (options === undefined) {
      const inner = this.#semaphore.tryAcquire(1);
      if (inner !== undefined) return Promise.resolve(this.#wrap(inner));
    }
    return this.#semaphore.acquire(options).then(this.#wrap);
  }

  /** A permit if `weight` units are free now and nobody waits, else `undefined`. */
  tryAcquire(weight = 1): Permit | undefined {
    const inner = this.#semaphore.tryAcquire(weight);
    return inner === undefined ? undefined : this.#wrap(inner);
  }

  /**
   * Acquires, runs `fn`, and releases whatever `fn` does: as `'success'` when
   * it fulfils, as `'dropped'` (a sign of overload the limit learns from)
   * when it throws or rejects.
   */
  run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    return runWithPermit(this, fn, options);
  }

  /** Stops admitting, as `Semaphore.close`: waiters and later acquires reject with `LimiterClosedError`. */
  close(reason?: unknown): Promise<void> {
    return this.#semaphore.close(reason);
  }

  /** Resolves once nothing is held and nobody waits. */
  idle(): Promise<void> {
    return this.#semaphore.idle();
  }

  onWait(listener: WaitListener): () => void {
    return this.#semaphore.onWait(listener);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A permit is released: its time and outcome are a sample, taken before its units go back. */
  #record(permit: AdaptivePermit, outcome: ReleaseOutcome): void {
    if (outcome === 'ignored') return;
    const t = now();
    let wanted: number;
    try {
      wanted = this.#controller.onSample(
        t - permit.admittedAt,
        permit.inFlight,
        outcome === 'dropped',
        t,
      );
    } catch (error) {
      this.#warn(error);
      return;
    }
    // A broken algorithm (NaN, not a number) leaves the limit where it is.
    if (typeof wanted !== 'number' || Number.isNaN(wanted)) return;
    const next = Math.min(this.maxLimit, Math.max(this.minLimit, Math.round(wanted)));
    if (next !== this.#semaphore.limit && !this.#semaphore.isClosed) this.#semaphore.setLimit(next);
  }

  readonly #wrap = (inner: Permit): AdaptivePermit =>
    new AdaptivePermit(inner, this.#sink, now(), this.#semaphore.inUse);

  #warn(error: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    const message = `the ${this.algorithm} algorithm of limiter "${this.name}" threw; its limit stays at ${this.limit}: ${error instanceof Error ? error.message : String(error)}`;
    globalThis.process?.emitWarning?.(message, {
      type: 'DoormanWarning',
      code: 'DOORMAN_ALGORITHM',
    });
  }
}

function integerWithin(name: string, value: unknown, min: number, max: number): number {
  const expected = `Expected \`${name}\` to be an integer from minLimit (${min}) to maxLimit (${max}), got ${check.show(value)}`;
  if (typeof value !== 'number') throw new TypeError(expected);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(expected);
  return value;
}

function toAlgorithm(value: unknown): LimitAlgorithm {
  if (value === undefined) return gradient2;
  if (typeof value === 'string') return builtIn[check.oneOf('algorithm', value, algorithmNames)];
  const candidate = value as Partial<LimitAlgorithm> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.name !== 'string' ||
    candidate.name.length === 0 ||
    typeof candidate.create !== 'function'
  ) {
    throw new TypeError(
      `Expected \`algorithm\` to be 'gradient2' or 'aimd' or 'vegas' or an object { name, create(bounds) }, got ${check.show(value)}`,
    );
  }
  return candidate as LimitAlgorithm;
}
