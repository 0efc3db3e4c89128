/**
 * The shared test kit: what every HTTP test of doorman needs, written once.
 * Handlers are held by deferred promises, conditions are awaited one
 * event-loop turn at a time, never by sleeping.
 */
export { type Deferred, deferred } from './deferred.js';
export { type Call, type CallOptions, call, get, type Reply } from './http-client.js';
export { prng, weighted } from './prng.js';
export { RawConnection, rawGet } from './raw-client.js';
export { type PermitRecord, RecordingLimiter } from './recording-limiter.js';
export { closeServer, type Listening, listen, listening } from './server.js';
export { Stage } from './stage.js';
export { turn, turns, waitUntil } from './wait.js';
