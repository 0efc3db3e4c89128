export {
  DoormanError,
  type DoormanErrorCode,
  type HttpRejection,
  isDoormanError,
  type Limiter,
  LimiterClosedError,
  LimiterUnavailableError,
  QueueFullError,
  QueueTimeoutError,
  type ReleaseOutcome,
  requestSignal,
} from '@doorman/http';
export { KeyedSemaphore, Semaphore } from '@doorman/semaphore';
export {
  type ConcurrencyLimitMiddleware,
  type ConcurrencyLimitOptions,
  concurrencyLimit,
  type RejectedHandler,
  type WrappableHandler,
} from './concurrency-limit.js';
