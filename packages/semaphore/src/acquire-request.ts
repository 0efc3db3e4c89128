import type { AcquireOptions } from './limiter.js';
import * as check from './validate.js';

/** Checks a weight against what the limiter can ever grant; throws in the common words. */
export type WeightCheck = (weight: unknown) => number;

/** What a limiter takes in `acquire` options, and how it checks a weight. */
export interface AcquireRules {
  /** The option names it accepts; any other is a TypeError naming it. */
  readonly keys: ReadonlySet<string>;
  readonly checkWeight: WeightCheck;
  /** Whether `priority` means anything (a shared FIFO line refuses any but 0). */
  readonly priority: boolean;
  /** The limiter's name, for the message refusing `priority`. */
  readonly limiterKind: string;
}

/**
 * The options of one `acquire`, read and checked once, into fields every
 * limiter reads the same way. One object per limiter, refilled by each call,
 * so an acquire with options allocates nothing here. Every option is read
 * into a local first and the fields are set last: a getter that re-enters
 * `acquire` cannot leave this call with half of another's options.
 */
export class AcquireRequest {
  weight = 1;
  priority = 0;
  timeoutMs = Number.POSITIVE_INFINITY;
  key: string | undefined = undefined;
  // Read once through `takeSignal()`, which lets go of it: kept here, the last
  // acquire's signal (and whatever its listeners hold, a request and its
  // response) would live as long as the limiter.
  #signal: AbortSignal | undefined = undefined;

  constructor(private readonly rules: AcquireRules) {}

  /** Reads `options` (may be undefined); throws a TypeError or RangeError for a bad one. */
  read(options: AcquireOptions | undefined, queueTimeoutMs: number): void {
    let weight = 1;
    let priority = 0;
    let signal: AbortSignal | undefined;
    let timeoutMs = queueTimeoutMs;
    let key: string | undefined;
    if (options !== undefined) {
      const rules = this.rules;
      check.plainObject('acquire options', options);
      for (const name in options) {
        if (!rules.keys.has(name)) check.knownKeys('acquire options', options, rules.keys);
      }
      if (options.weight !== undefined) weight = rules.checkWeight(options.weight);
      if (options.priority !== undefined) {
        if (!rules.priority && options.priority !== 0) {
          throw new TypeError(
            `${rules.limiterKind} serves its shared line in arrival order only: \`priority\` is not supported, got ${check.show(options.priority)}`,
          );
        }
        priority = check.finiteNumber('priority', options.priority);
      }
      if (options.timeoutMs !== undefined) {
        timeoutMs = check.duration('timeoutMs', options.timeoutMs);
      }
      if (options.signal !== undefined) signal = check.signal('signal', options.signal);
      key = options.key;
    }
    this.weight = weight;
    this.priority = priority;
    this.#signal = signal;
    this.timeoutMs = timeoutMs;
    this.key = key;
  }

  /** The signal read last, once: the request forgets it. */
  takeSignal(): AbortSignal | undefined {
    const signal = this.#signal;
    this.#signal = undefined;
    return signal;
  }
}

/** The acquire option names of a limiter without keys. */
export const acquireKeys: ReadonlySet<string> = new Set([
  'weight',
  'signal',
  'timeoutMs',
  'priority',
]);

/** What bounds a weight, for messages: the smaller of `limit` and `totalLimit`. */
function weightBound(limit: number, totalLimit: number): string {
  return totalLimit < limit ? `totalLimit (${totalLimit})` : `limit (${limit})`;
}

/**
 * A weight no waiter could ever outgrow: an integer from 1 to `limit` (and to
 * `totalLimit`, for keys under a total). Every limiter checks weights here.
 */
export function checkWeight(
  weight: unknown,
  limit: number,
  totalLimit = Number.POSITIVE_INFINITY,
): number {
  if (typeof weight !== 'number') {
    throw new TypeError(
      `Expected \`weight\` to be an integer from 1 to ${weightBound(limit, totalLimit)}, got ${check.show(weight)}`,
    );
  }
  if (!Number.isInteger(weight) || weight < 1 || weight > Math.min(limit, totalLimit)) {
    throw new RangeError(
      `Expected \`weight\` to be an integer from 1 to ${weightBound(limit, totalLimit)}, got ${check.show(weight)}`,
    );
  }
  return weight;
}
