export {
  DoormanError,
  isDoormanError,
  KeyedSemaphore,
  type Limiter,
  LimiterClosedError,
  LimiterUnavailableError,
  QueueFullError,
  QueueTimeoutError,
  Semaphore,
} from '@doorman/semaphore';
export type { HttpRejection } from '@doorman/semaphore/adapter';
export {
  type ConcurrencyLimitMiddleware,
  type ConcurrencyLimitOptions,
  concurrencyLimit,
} from './concurrency-limit.js';
