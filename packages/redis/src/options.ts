// The options of RedisSemaphore, checked once at construction.
import type { RedisClient } from './hub.js';
import type { RedisPermit } from './permit.js';
import * as check from './validate.js';

export interface RedisSemaphoreOptions {
  /** The ioredis client (a `Redis` or a `Cluster`). Its subscriber connection is made with `duplicate()`. */
  redis: RedisClient;
  /** Names the shared limit: every process using the same `key` (and Redis) shares one `limit`. */
  key: string;
  /** Units that may be held at once across all those processes: an integer >= 1. Use the same value everywhere. */
  limit: number;
  /** A holder (or waiter) whose process stops renewing loses its place after this many ms. Default 10000. */
  leaseMs?: number;
  /** Most acquirers in the shared line (all processes together); beyond it `QUEUE_FULL`. Default: no bound. */
  maxQueue?: number;
  /** Longest wait in the line before `QUEUE_TIMEOUT`, in ms. Default: no timeout. */
  queueTimeoutMs?: number;
  /** With Redis unreachable, admit (with a permit Redis does not count) instead of rejecting `UNAVAILABLE`. Default false. */
  failOpen?: boolean;
  /** Shown in errors and used as the `limiter` label in metrics. Default: `key`. */
  name?: string;
  /** A command not answered within this many ms counts as Redis unreachable. Default 2000. */
  unavailableAfterMs?: number;
  /** Called (never thrown) when a held permit's lease is found lost. */
  onLeaseLost?: (permit: RedisPermit) => void;
  /**
   * Relaxes the strict cross-process FIFO line for throughput: a released
   * permit goes straight to this process's longest waiter of the same weight,
   * without a trip to Redis, at most this many times in a row before it goes
   * back to the shared line. So a waiter of another process at the head of the
   * line can be overtaken by at most `localHandOff` local hand-offs per permit
   * this process holds. Default 0: strict FIFO across processes.
   */
  localHandOff?: number;
}

/** The options as RedisSemaphore uses them. */
export interface Settings {
  readonly redis: RedisClient;
  readonly key: string;
  readonly limit: number;
  readonly leaseMs: number;
  readonly maxQueue: number;
  readonly queueTimeoutMs: number;
  readonly failOpen: boolean;
  readonly name: string;
  readonly unavailableAfterMs: number;
  readonly onLeaseLost: ((permit: RedisPermit) => void) | undefined;
  readonly localHandOff: number;
}

const optionKeys: ReadonlySet<string> = new Set([
  'redis',
  'key',
  'limit',
  'leaseMs',
  'maxQueue',
  'queueTimeoutMs',
  'failOpen',
  'name',
  'unavailableAfterMs',
  'onLeaseLost',
  'localHandOff',
]);

export function parseOptions(options: unknown): Settings {
  const o = check.plainObject('options', options);
  check.knownKeys('RedisSemaphore options', o, optionKeys);
  const redis = o['redis'] as RedisClient | undefined;
  if (
    typeof redis !== 'object' ||
    redis === null ||
    typeof (redis as { defineCommand?: unknown }).defineCommand !== 'function' ||
    typeof (redis as { duplicate?: unknown }).duplicate !== 'function'
  ) {
    throw new TypeError(
      `Expected \`redis\` to be an ioredis client (Redis or Cluster), got ${check.show(redis)}`,
    );
  }
  const key = check.nonEmptyString('key', o['key']);
  if (/[{}]/.test(key)) {
    throw new RangeError(
      `Expected \`key\` to be a non-empty string without \`{\` or \`}\`, got ${check.show(key)}`,
    );
  }
  return {
    redis,
    key,
    limit: check.integerAtLeast('limit', o['limit'], 1),
    leaseMs:
      o['leaseMs'] === undefined ? 10_000 : check.finiteDuration('leaseMs', o['leaseMs'], 30),
    maxQueue:
      o['maxQueue'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.countOrInfinity('maxQueue', o['maxQueue'], 0),
    queueTimeoutMs:
      o['queueTimeoutMs'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.duration('queueTimeoutMs', o['queueTimeoutMs']),
    failOpen: o['failOpen'] === undefined ? false : check.boolean('failOpen', o['failOpen']),
    name: o['name'] === undefined ? key : check.nonEmptyString('name', o['name']),
    unavailableAfterMs:
      o['unavailableAfterMs'] === undefined
        ? 2_000
        : check.finiteDuration('unavailableAfterMs', o['unavailableAfterMs'], 1),
    onLeaseLost: check.optionalFunction('onLeaseLost', o['onLeaseLost']),
    localHandOff:
      o['localHandOff'] === undefined
        ? 0
        : check.integerAtLeast('localHandOff', o['localHandOff'], 0),
  };
}
