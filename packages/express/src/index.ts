export type { HttpRejection } from '@doorman/http';
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
export {
  type ConcurrencyLimitMiddleware,
  type ConcurrencyLimitOptions,
  concurrencyLimit,
} from './concurrency-limit.js';
