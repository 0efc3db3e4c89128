/**
 * Every rejection doorman makes on its own account is a `DoormanError` with a
 * stable `code`. Match on the code (or `isDoormanError`), not on `instanceof`:
 * an app can load two copies of this package (an ESM and a CommonJS build, or
 * two versions), and a class from one copy is not the class of the other.
 */
export type DoormanErrorCode = 'QUEUE_FULL' | 'QUEUE_TIMEOUT' | 'CLOSED' | 'UNAVAILABLE';

/** The reason label used in counters and metrics for each kind of rejection. */
export type RejectionReason = 'queue_full' | 'timeout' | 'aborted' | 'closed' | 'unavailable';

/** Every rejection reason, in a fixed order (metrics export each, also at 0). */
export const rejectionReasons: readonly RejectionReason[] = Object.freeze([
  'queue_full',
  'timeout',
  'aborted',
  'closed',
  'unavailable',
]);

// A registry-wide symbol, so every copy of the package brands its errors alike.
const brand: unique symbol = Symbol.for('doorman.error') as never;

const codes: ReadonlySet<string> = new Set<DoormanErrorCode>([
  'QUEUE_FULL',
  'QUEUE_TIMEOUT',
  'CLOSED',
  'UNAVAILABLE',
]);

export class DoormanError extends Error {
  readonly code: DoormanErrorCode;
  /** Name of the limiter that rejected, as given in its options. */
  readonly limiter: string | undefined;
  declare readonly [brand]: true;

  constructor(code: DoormanErrorCode, message: string, limiter?: string, options?: ErrorOptions) {
    // A rejection is flow control, not a bug: where it was made says nothing
    // (it is always the limiter), and capturing a stack costs microseconds on
    // the path that sheds load. So its stack is only its first line, and an
    // error handler that logs it writes one short line per rejection.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message, options);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = new.target.name;
    this.code = code;
    this.limiter = limiter;
    Object.defineProperty(this, brand, { value: true });
  }
}

/** The waiting line was full (`maxQueue`), so the acquire was refused at once. */
export class QueueFullError extends DoormanError {
  /**
   * `shrunkTo` and `weight` are given when a waiter was refused because the
   * limit shrank below its weight (`setLimit`): the line has no room for it.
   */
  constructor(limiter?: string, maxQueue?: number, shrunkTo?: number, weight?: number) {
    const why =
      shrunkTo !== undefined
        ? `the limit shrank to ${shrunkTo}, below this waiter's weight ${weight ?? '?'}`
        : maxQueue === 0
          ? 'no free permit and no waiting allowed (maxQueue 0)'
          : `${maxQueue ?? 'the most'} waiter${maxQueue === 1 ? '' : 's'} already waiting`;
    super('QUEUE_FULL', `Queue full: ${why}${at(limiter)}`, limiter);
  }
}

/** The acquire waited longer than its timeout and left the queue. */
export class QueueTimeoutError extends DoormanError {
  constructor(limiter?: string, timeoutMs?: number) {
    super(
      'QUEUE_TIMEOUT',
      `Timed out after ${timeoutMs ?? '?'} ms in the queue${at(limiter)}`,
      limiter,
    );
  }
}

/** The limiter was closed: waiters at that moment and every later acquire get this. */
export class LimiterClosedError extends DoormanError {
  constructor(limiter?: string, reason?: unknown) {
    super(
      'CLOSED',
      `Limiter closed${at(limiter)}`,
      limiter,
      reason === undefined ? undefined : { cause: reason },
    );
  }
}

/** The shared store behind a distributed limiter (Redis) could not be reached. */
export class LimiterUnavailableError extends DoormanError {
  constructor(limiter?: string, cause?: unknown) {
    super(
      'UNAVAILABLE',
      `Limiter unavailable${at(limiter)}`,
      limiter,
      cause === undefined ? undefined : { cause },
    );
  }
}

function at(limiter: string | undefined): string {
  return limiter === undefined ? '' : ` (limiter "${limiter}")`;
}

/**
 * True for an error made by any copy of doorman; with `code`, only for that code.
 */
export function isDoormanError(error: unknown, code?: DoormanErrorCode): error is DoormanError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { code?: unknown; [brand]?: unknown };
  if (candidate[brand] !== true || typeof candidate.code !== 'string') return false;
  if (!codes.has(candidate.code)) return false;
  return code === undefined || candidate.code === code;
}

/** The counter label for an error's code. */
export function reasonOf(code: DoormanErrorCode): RejectionReason {
  switch (code) {
    case 'QUEUE_FULL':
      return 'queue_full';
    case 'QUEUE_TIMEOUT':
      return 'timeout';
    case 'CLOSED':
      return 'closed';
    case 'UNAVAILABLE':
      return 'unavailable';
  }
}
