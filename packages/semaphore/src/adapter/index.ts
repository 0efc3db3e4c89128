// The framework-neutral core of the doorman middleware, for adapter authors.

// The option checks of the core, so packages built on it word their errors alike.
export * as check from '../validate.js';
// The onWait bookkeeping every limiter needs, with its guard against throwing listeners.
export { WaitListeners } from '../wait-listeners.js';
export { Gate, type HttpRejection } from './gate.js';
export { type GateOptions, gateDefaults } from './options.js';
