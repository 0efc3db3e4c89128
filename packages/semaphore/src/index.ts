export {
  DoormanError,
  type DoormanErrorCode,
  isDoormanError,
  LimiterClosedError,
  LimiterUnavailableError,
  QueueFullError,
  QueueTimeoutError,
  type RejectionReason,
  reasonOf,
  rejectionReasons,
} from './errors.js';
export type { KeyedSemaphoreOptions } from './keyed-options.js';
export { KeyedSemaphore } from './keyed-semaphore.js';
export type {
  AcquireOptions,
  Limiter,
  LimiterCounters,
  LimiterStats,
  Permit,
  ReleaseOutcome,
  WaitListener,
} from './limiter.js';
export { OwnedPermit, type PermitOwner } from './permit.js';
export { Semaphore, type SemaphoreOptions } from './semaphore.js';
export type { QueueOrder } from './wait-queue.js';
