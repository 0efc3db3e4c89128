import type { RejectionReason } from './errors.js';

/**
 * The key of a limiter's method that counts a rejection made on its behalf:
 * the HTTP middleware bounds its own line and refuses a request without
 * calling `acquire` (no promise, no error from the limiter), yet the refusal
 * must show in the limiter's counters and metrics. Registry-wide, so every
 * copy of the package finds it.
 */
export const countRejection: unique symbol = Symbol.for('doorman.countRejection') as never;

/** A limiter whose counters also take rejections made in front of it. */
export interface CountsRejections {
  [countRejection](reason: RejectionReason): void;
}
