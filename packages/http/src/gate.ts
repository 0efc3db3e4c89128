import {
  type AcquireOptions,
  type DoormanError,
  isDoormanError,
  KeyedSemaphore,
  type Limiter,
  type Permit,
  Semaphore,
} from '@doorman/semaphore';
import { check } from '@doorman/semaphore/internal';
import { type GateOptions, gateDefaults } from './options.js';

const gateKeys: ReadonlySet<string> = new Set([
  'limit',
  'limiter',
  'maxQueue',
  'queueTimeoutMs',
  'order',
  'weight',
  'priority',
  'key',
  'skip',
  'statusCode',
  'retryAfter',
  'name',
]);
/** Options that configure a semaphore the middleware builds, so they cannot go with `limiter`. */
const builtOnly = ['maxQueue', 'queueTimeoutMs', 'order', 'name', 'key'] as const;

/** A rejection as an HTTP error: the shape Koa's and Express's error handlers read. */
export type HttpRejection = DoormanError & {
  status: number;
  statusCode: number;
  expose: true;
  headers: { 'Retry-After': string };
};

/**
 * The framework-neutral part of the middleware: options parsed and checked
 * once, then the few per-request decisions (skip, key, weight, priority) and
 * the shape of a rejection. The adapters add only what their framework needs.
 */
export class Gate<Req> {
  /** What the middleware carries as `.limiter`: metrics read it. */
  readonly limiter: Limiter | KeyedSemaphore;
  readonly statusCode: number;
  private readonly single: Limiter | undefined;
  private readonly keyed: KeyedSemaphore | undefined;
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
    if (hasLimiter) {
      for (const name of builtOnly) {
        if (o[name] !== undefined) {
          throw new TypeError(
            `Option \`${name}\` (given ${check.show(o[name])}) cannot be combined with \`limiter\`; set it on the limiter, or pass \`limit\` instead`,
          );
        }
      }
      this.single = checkLimiter(o['limiter']);
      this.limiter = this.single;
    } else {
      const semaphoreOptions = {
        limit: o['limit'] as number,
        maxQueue: o['maxQueue'] === undefined ? gateDefaults.maxQueue : (o['maxQueue'] as number),
        queueTimeoutMs:
          o['queueTimeoutMs'] === undefined
            ? gateDefaults.queueTimeoutMs
            : (o['queueTimeoutMs'] as number),
        order: o['order'] === undefined ? 'fifo' : (o['order'] as 'fifo'),
        name: o['name'] === undefined ? gateDefaults.name : (o['name'] as string),
      };
      if (this.keyFn !== undefined) {
        this.keyed = new KeyedSemaphore(semaphoreOptions);
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
          : String(Math.ceil(checkSeconds(retryAfter)));
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
    if (this.keyed !== undefined) return this.keyed.tryAcquire(key as string, weight);
    const limiter = this.single as Limiter;
    return limiter.tryAcquire === undefined ? undefined : limiter.tryAcquire(weight);
  }

  /** Queues the request. `signal` aborts when the client goes away. */
  acquire(req: Req, key: string | undefined, weight: number, signal: AbortSignal): Promise<Permit> {
    let options: AcquireOptions;
    try {
      if (this.priorityFn === undefined) options = { weight, signal };
      else {
        const priority = this.priorityFn(req);
        if (typeof priority !== 'number') {
          throw new TypeError(
            `Expected \`priority\` to return a number, got ${check.show(priority)}`,
          );
        }
        options = { weight, signal, priority };
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.keyed !== undefined) return this.keyed.acquire(key as string, options);
    return (this.single as Limiter).acquire(options);
  }

  /**
   * Turns a limiter's rejection into an HTTP error: `status`, `expose` and a
   * `Retry-After` header, which Koa's `ctx.onerror` and Express's final
   * handler both read. Returns undefined for anything that is not a doorman
   * rejection (a bug, a bad `weight`): those go down the framework's error path.
   */
  httpRejection(error: unknown): HttpRejection | undefined {
    if (!isDoormanError(error)) return undefined;
    const rejection = error as HttpRejection;
    rejection.status = this.statusCode;
    rejection.statusCode = this.statusCode;
    rejection.expose = true;
    rejection.headers = { 'Retry-After': this.retryAfterFor(error) };
    return rejection;
  }

  /** The short plain-text body of a rejection, naming its code. */
  bodyOf(rejection: HttpRejection): string {
    return `${statusText(rejection.status)} (${rejection.code})\n`;
  }

  private retryAfterFor(error: DoormanError): string {
    if (this.retryAfterFn === undefined) return this.retryAfterValue;
    // A misbehaving function must not break the rejection nor write a header
    // from anything but a number: fall back to the default.
    try {
      const seconds = this.retryAfterFn(error);
      if (typeof seconds === 'number' && seconds >= 0 && seconds <= 1e9) {
        return String(Math.ceil(seconds));
      }
    } catch {}
    return this.retryAfterValue;
  }
}

function statusText(status: number): string {
  if (status === 503) return 'Service Unavailable';
  if (status === 429) return 'Too Many Requests';
  return 'Request Rejected';
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
