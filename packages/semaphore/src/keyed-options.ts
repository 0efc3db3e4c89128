import type { SemaphoreOptions } from './semaphore.js';
import * as check from './validate.js';
import type { QueueOrder } from './wait-queue.js';

export interface KeyedSemaphoreOptions extends SemaphoreOptions {
  /**
   * Most units all keys together may hold at once: an integer >= 1. Capacity
   * that frees up goes to the waiting keys in turn. Below `limit`, it is also
   * what each key can hold. Default: no total bound.
   */
  totalLimit?: number;
}

/** The options of a `KeyedSemaphore`, checked, with their defaults filled in. */
export interface KeyedSettings {
  name: string;
  limit: number;
  totalLimit: number;
  maxQueue: number;
  queueTimeoutMs: number;
  order: QueueOrder;
}

const optionKeys: ReadonlySet<string> = new Set([
  'limit',
  'totalLimit',
  'maxQueue',
  'queueTimeoutMs',
  'order',
  'name',
]);

export const keyedAcquireKeys: ReadonlySet<string> = new Set([
  'key',
  'weight',
  'signal',
  'timeoutMs',
  'priority',
]);

export function keyedSettings(options: unknown): KeyedSettings {
  const o = check.plainObject('options', options);
  check.knownKeys('KeyedSemaphore options', o, optionKeys);
  return {
    limit: check.integerAtLeast('limit', o['limit'], 1),
    totalLimit:
      o['totalLimit'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.integerAtLeast('totalLimit', o['totalLimit'], 1),
    maxQueue:
      o['maxQueue'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.countOrInfinity('maxQueue', o['maxQueue'], 0),
    queueTimeoutMs:
      o['queueTimeoutMs'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.duration('queueTimeoutMs', o['queueTimeoutMs']),
    order: o['order'] === undefined ? 'fifo' : check.oneOf('order', o['order'], ['fifo', 'lifo']),
    name: o['name'] === undefined ? 'semaphore' : check.nonEmptyString('name', o['name']),
  };
}

export function checkKey(key: unknown): string {
  if (typeof key !== 'string') {
    throw new TypeError(`Expected \`key\` to be a string, got ${check.show(key)}`);
  }
  return key;
}
