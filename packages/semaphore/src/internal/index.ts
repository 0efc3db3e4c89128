// What doorman's own packages share and users should not rely on: no semver
// promise covers this subpath.

// Lets the HTTP middleware count the requests it refuses in front of a limiter.
export { type CountsRejections, countRejection } from '../rejection-count.js';
// The option checks of the core, so every package words its errors alike.
export * as check from '../validate.js';
// The onWait bookkeeping every limiter needs, with its guard against throwing listeners.
export { WaitListeners } from '../wait-listeners.js';
