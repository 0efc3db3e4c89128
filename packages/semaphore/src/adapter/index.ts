// The framework-neutral core of the doorman middleware, for adapter authors.
export { Gate, type HttpRejection } from './gate.js';
export { type GateOptions, gateDefaults } from './options.js';
