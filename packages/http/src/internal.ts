// What doorman's framework adapters share and applications should not rely
// on: no semver promise covers this subpath.
export { Gate } from './gate.js';
export { type GateOptions, gateDefaults } from './options.js';
