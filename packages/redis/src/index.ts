export type { RedisClient } from './hub.js';
export { LeaseLostError, RedisPermit } from './permit.js';
export {
  type RedisLimiterCounters,
  RedisSemaphore,
  type RedisSemaphoreOptions,
} from './redis-semaphore.js';
