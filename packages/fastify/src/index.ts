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
  type ConcurrencyLimitHook,
  type ConcurrencyLimitOptions,
  concurrencyLimit,
  type OnRequestHook,
  type RejectedHandler,
} from './concurrency-limit.js';
export type { RouteHandler } from './wrap.js';
