export {
  DoormanError,
  type DoormanErrorCode,
  isDoormanError,
  type Limiter,
  LimiterClosedError,
  LimiterUnavailableError,
  QueueFullError,
  QueueTimeoutError,
  type ReleaseOutcome,
} from '@doorman/semaphore';
export {
  type GuardListener,
  type GuardOptions,
  type GuardRejectedHandler,
  guard,
} from './guard.js';
export type {
  CommonOptions,
  GateOptions,
  KeyedLimitOptions,
  LimiterOptions,
  LimitOptions,
} from './options.js';
export { gateDefaults } from './options.js';
export type { HttpRejection } from './rejection.js';
export { requestSignal } from './request-signal.js';
