export type { HttpRejection } from './gate.js';
export { type GateOptions, gateDefaults } from './options.js';
