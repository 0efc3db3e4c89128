// What doorman's own packages share and users should not rely on: no semver
// promise covers this subpath.
//
// The kit every limiter is built from, so that they differ only in what really
// differs: acquire options read and checked once (AcquireRequest), the
// counters (Counts), the idle() promises (IdleWaiters), run() (runWithPermit)
// and the onWait bookkeeping with its guard against throwing listeners
// (WaitListeners). Also: `countRejection`, which lets the HTTP middleware count
// the requests it refuses in front of a limiter, and the core's option checks
// (`check`), so every package words its errors alike.
export {
  AcquireRequest,
  type AcquireRules,
  acquireKeys,
  checkWeight,
  type WeightCheck,
} from '../acquire-request.js';
export { Counts } from '../counts.js';
export { IdleWaiters } from '../idle-waiters.js';
export { type CountsRejections, countRejection } from '../rejection-count.js';
export { runWithPermit } from '../run.js';
export * as check from '../validate.js';
export { WaitListeners } from '../wait-listeners.js';
