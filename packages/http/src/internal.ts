// What doorman's framework adapters share and applications should not rely
// on: no semver promise covers this subpath.
export { Door, type Entry, FULL, GONE, PASS, type Waited } from './door.js';
export { Gate } from './gate.js';
export { Hold, isFailure } from './hold.js';
export { asHttpRejection, rejectionBody, writeRejection } from './rejection.js';
