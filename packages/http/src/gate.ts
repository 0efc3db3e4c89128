import {
  type AcquireOptions,
  type DoormanError,
  isDoormanError,
  KeyedSemaphore,
  type Limiter,
  type Permit,
  QueueFullError,
  Semaphore,
} from '@doorman/semaphore';
import { type CountsRejections, check, countRejection } from '@doorman/semaphore/internal';
import { type GateOptions, gateDefaults } from './options.js';
import { asHttpRejection, type HttpRejection } from './rejection.js';

const gateKeys: ReadonlySet<string> = new Set([
  'limit',
  'limiter',
  'maxQueue',
  'queueTimeoutMs',
  'order',
  'weight',
  'priority',
  'key',
  'totalLimit',
  'skip',
  'statusCode',
  'retryAfter',
  'name',
]);
/** Options that configure a semaphore the middleware builds, so they cannot go with `limiter`. */
const builtOnly = ['order', 'name', 'totalLimit'] as const;
/** The longest `Retry-After` written: 2^31 - 1 seconds, as caches take delta-seconds. */
const maxRetryAfter = 2_147_483_647;

/**
 * The options of a middleware, parsed and checked once, and the few
 * per-request decisions made from them (skip, key, weight, priority, the
 * shape of a rejection). Everything here is framework-neutral.
 */
export class Gate<Req> {
  /** What the middleware carries as `.limiter`: metrics read it. */
  readonly limiter: Limiter;
  readonly statusCode: number;
  /** `maxQueue` as given or defaulted. */
  readonly maxQueue: number;
  /**
   * Bound of this middleware's own line, checked before anything is
   * allocated: `maxQueue`. Unbounded here where the semaphore the middleware
   * built must decide: with `key` it bounds each key's line (a line over all
   * keys would be the wrong bound), and with `priority` it may let in a
   * newcomer who outranks everyone waiting even when the line is full.
   */
  readonly lineBound: number;
  private readonly single: Limiter | undefined;
  private readonly keyed: KeyedSemaphore | undefined;
  /** Given to each acquire of a limiter the middleware did not build (it has its own default). */
  private readonly timeoutMs: number | undefined;
  private readonly skipFn: ((req: Req) => boolean) | undefined;
  private readonly keyFn: ((req: Req) => string) | undefined;
  private readonly weightFn: ((req: Req) => number) | undefined;
  private readonly weightValue: number;
  private readonly priorityFn: ((req: Req) => number) | undefined;
  private readonly retryAfterFn: ((error: DoormanError) => number) | undefined;
  private readonly retryAfterValue: string;

  constructor(options: GateOptions<Req>, extraKeys: readonly string[] = []) {
    const o = check.plainObject('options', options);
    check.knownKeys('concurrencyLimit options', o, new Set([...gateKeys, ...extraKeys]));
    const hasLimit = o['limit'] !== undefined;
    const hasLimiter = o['limiter'] !== undefined;
    if (hasLimit === hasLimiter) {
      throw new TypeError(
        `Expected exactly one of \`limit\` and \`limiter\`, got ${hasLimit ? 'both' : 'neither'}`,
      );
    }

    this.keyFn = check.optionalFunction('key', o['key']);
    if (o['totalLimit'] !== undefined && this.keyFn === undefined && !hasLimiter) {
      throw new TypeError(
        `Option \`totalLimit\` (given ${check.show(o['totalLimit'])}) bounds all keys together, so it needs \`key\``,
      );
    }
    this.maxQueue =
      o['maxQueue'] === undefined
        ? gateDefaults.maxQueue
        : check.countOrInfinity('maxQueue', o['maxQueue'], 0);
    this.lineBound = this.maxQueue;
    const queueTimeoutMs =
      o['queueTimeoutMs'] === undefined
        ? gateDefaults.queueTimeoutMs
        : check.duration('queueTimeoutMs', o['queueTimeoutMs']);
    if (hasLimiter) {
      for (const name of builtOnly) {
        if (o[name] !== undefined) {
          throw new TypeError(
            `Option \`${name}\` (given ${check.show(o[name])}) cannot be combined with \`limiter\`; set it on the limiter, or pass \`limit\` instead`,
          );
        }
      }
      const limiter = checkLimiter(o['limiter']);
      this.limiter = limiter;
      this.timeoutMs = queueTimeoutMs;
      // A keyed limiter (a KeyedSemaphore shared by several middlewares) is
      // recognised by its shape, not its class, and needs `key`, as `key` needs it.
      const keyed = typeof (limiter as Partial<KeyedSemaphore>).activeKeys === 'number';
      if (keyed !== (this.keyFn !== undefined)) {
        throw new TypeError(
          keyed
            ? `Expected \`key\` next to a keyed \`limiter\` (${check.show(limiter.name)}): it takes a key per request`
            : `Option \`key\` (given ${check.show(o['key'])}) needs a keyed \`limiter\` (a KeyedSemaphore), or \`limit\` instead of \`limiter\``,
        );
      }
      if (keyed) {
        this.lineBound = Number.POSITIVE_INFINITY;
        this.keyed = limiter as KeyedSemaphore;
      } else this.single = limiter;
    } else {
      const semaphoreOptions = {
        limit: o['limit'] as number,
        maxQueue: this.maxQueue,
        queueTimeoutMs,
        order: o['order'] === undefined ? 'fifo' : (o['order'] as 'fifo'),
        name: o['name'] === undefined ? gateDefaults.name : (o['name'] as string),
      };
      if (this.keyFn !== undefined) {
        this.lineBound = Number.POSITIVE_INFINITY;
        this.keyed = new KeyedSemaphore(
          o['totalLimit'] === undefined
            ? semaphoreOptions
            : { ...semaphoreOptions, totalLimit: o['totalLimit'] as number },
        );
        this.limiter = this.keyed;
      } else {
        this.single = new Semaphore(semaphoreOptions);
        this.limiter = this.single;
      }
    }

    const weight = o['weight'];
    if (typeof weight === 'function') {
      this.weightFn = weight as (req: Req) => number;
      this.weightValue = 1;
    } else {
      this.weightValue = weight === undefined ? 1 : check.integerAtLeast('weight', weight, 1);
      if (this.weightValue > this.limiter.limit) {
        throw new RangeError(
          `Expected \`weight\` to be an integer from 1 to limit (${this.limiter.limit}), got ${check.show(weight)}`,
        );
      }
    }
    this.priorityFn = check.optionalFunction('priority', o['priority']);
    if (this.priorityFn !== undefined && !hasLimiter) this.lineBound = Number.POSITIVE_INFINITY;
    this.skipFn = check.optionalFunction('skip', o['skip']);
    this.statusCode =
      o['statusCode'] === undefined ? gateDefaults.statusCode : checkStatus(o['statusCode']);
    const retryAfter = o['retryAfter'];
    if (typeof retryAfter === 'function') {
      this.retryAfterFn = retryAfter as (error: DoormanError) => number;
      this.retryAfterValue = String(gateDefaults.retryAfter);
    } else {
      this.retryAfterValue =
        retryAfter === undefined
          ? String(gateDefaults.retryAfter)
          : headerSeconds(checkSeconds(retryAfter));
    }
  }

  /** The request's key, or undefined without `key`. Throws if `key` returns a non-string. */
  keyOf(req: Req): string | undefined {
    if (this.keyFn === undefined) return undefined;
    const key = this.keyFn(req);
    if (typeof key !== 'string') {
      throw new TypeError(`Expected \`key\` to return a string, got ${check.show(key)}`);
    }
    return key;
  }

  /** Whether `skip` lets this request through. Throws unless `skip` returns a boolean. */
  skips(req: Req): boolean {
    if (this.skipFn === undefined) return false;
    const skip = this.skipFn(req);
    if (skip === true || skip === false) return skip;
    // An async function's promise is truthy: taking it as "skip" would lift the limit unseen.
    throw new TypeError(`Expected \`skip\` to return a boolean, got ${check.show(skip)}`);
  }

  /** The units this request takes. Throws unless `weight` returns a number (the limiter checks its range). */
  weightOf(req: Req): number {
    if (this.weightFn === undefined) return this.weightValue;
    const weight = this.weightFn(req);
    if (typeof weight !== 'number') {
      throw new TypeError(`Expected \`weight\` to return a number, got ${check.show(weight)}`);
    }
    return weight;
  }

  /** A permit now, without a promise, or undefined when the request must queue. */
  tryAcquire(key: string | undefined, weight: number): Permit | undefined {
    if (this.keyed !== undefined) return this.keyed.tryAcquire(weight, key);
    const limiter = this.single as Limiter;
    return limiter.tryAcquire === undefined ? undefined : limiter.tryAcquire(weight);
  }

  /** Queues the request. `signal` aborts when the client goes away. */
  acquire(req: Req, key: string | undefined, weight: number, signal: AbortSignal): Promise<Permit> {
    const options: AcquireOptions =
      this.keyed === undefined ? { weight, signal } : { key, weight, signal };
    if (this.timeoutMs !== undefined) options.timeoutMs = this.timeoutMs;
    if (this.priorityFn !== undefined) {
      try {
        const priority = this.priorityFn(req);
        if (typeof priority !== 'number') {
          throw new TypeError(
            `Expected \`priority\` to return a number, got ${check.show(priority)}`,
          );
        }
        options.priority = priority;
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.limiter.acquire(options);
  }

  /**
   * A refusal made here, because this middleware's own line is full: counted
   * by the limiter as its own `queue_full` when it can count one.
   */
  lineFull(): HttpRejection {
    this.countLineFull();
    const error = new QueueFullError(this.limiter.name, this.maxQueue);
    return asHttpRejection(error, this.statusCode, this.retryAfterFor(error));
  }

  /** Counts a refusal of this middleware's own full line in the limiter's counters, when it can count one. */
  countLineFull(): void {
    (this.limiter as Partial<CountsRejections>)[countRejection]?.('queue_full');
  }

  /** Whether a refusal can be written without building its error (no `retryAfter` function to ask). */
  get fixedRetryAfter(): string | undefined {
    return this.retryAfterFn === undefined ? this.retryAfterValue : undefined;
  }

  /**
   * Turns a limiter's rejection into an HTTP error: `status`, `expose` and a
   * `Retry-After` header, which Koa's `ctx.onerror`, Express's final handler
   * and Fastify's error handler all read. Returns undefined for anything that
   * is not a doorman rejection (a bug, a bad `weight`): those go down the
   * framework's error path.
   */
  httpRejection(error: unknown): HttpRejection | undefined {
    if (!isDoormanError(error)) return undefined;
    return asHttpRejection(error, this.statusCode, this.retryAfterFor(error));
  }

  private retryAfterFor(error: DoormanError): string {
    if (this.retryAfterFn === undefined) return this.retryAfterValue;
    // A misbehaving function must not break the rejection nor write a header
    // from anything but a number: fall back to the default.
    try {
      const seconds = this.retryAfterFn(error);
      if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) {
        return headerSeconds(seconds);
      }
    } catch {}
    return this.retryAfterValue;
  }
}

/** Whole seconds for `Retry-After`: rounded up, at most 2^31 - 1, never in exponent notation. */
function headerSeconds(seconds: number): string {
  return seconds >= maxRetryAfter ? String(maxRetryAfter) : String(Math.ceil(seconds));
}

function checkStatus(value: unknown): number {
  if (typeof value !== 'number') {
    throw new TypeError(
      `Expected \`statusCode\` to be an integer from 400 to 599, got ${check.show(value)}`,
    );
  }
  if (!Number.isInteger(value) || value < 400 || value > 599) {
    throw new RangeError(
      `Expected \`statusCode\` to be an integer from 400 to 599, got ${check.show(value)}`,
    );
  }
  return value;
}

function checkSeconds(value: unknown): number {
  if (typeof value !== 'number') {
    throw new TypeError(
      `Expected \`retryAfter\` to be a number of seconds >= 0 or a function, got ${check.show(value)}`,
    );
  }
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Expected \`retryAfter\` to be a number of seconds >= 0 or a function, got ${check.show(value)}`,
    );
  }
  return value;
}

function checkLimiter(value: unknown): Limiter {
  const limiter = value as Limiter;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof limiter.acquire !== 'function' ||
    typeof limiter.name !== 'string' ||
    typeof limiter.limit !== 'number' ||
    typeof limiter.inUse !== 'number' ||
    typeof limiter.waiting !== 'number'
  ) {
    throw new TypeError(
      `Expected \`limiter\` to be a Limiter (an object with \`acquire\`, \`name\`, \`limit\`, \`inUse\` and \`waiting\`), got ${check.show(value)}`,
    );
  }
  return limiter;
}
