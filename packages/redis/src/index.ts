export type { RedisClient } from './hub.js';
export { LeaseLostError, RedisPermit } from './permit.js';
export { RedisSemaphore, type RedisSemaphoreOptions } from './redis-semaphore.js';
