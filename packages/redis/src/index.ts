export type { RedisClient } from './hub.js';
export type { RedisSemaphoreOptions } from './options.js';
export { LeaseLostError, RedisPermit } from './permit.js';
export { type RedisLimiterCounters, RedisSemaphore } from './redis-semaphore.js';
