// Option checks in the core's words ("Expected `limit` to be an integer >= 1,
// got `0` (number)"): the core's own checks, plus the two this package needs
// that the core has no use for.
import { check } from '@doorman/semaphore/internal';

export const {
  show,
  integerAtLeast,
  countOrInfinity,
  duration,
  nonEmptyString,
  plainObject,
  optionalFunction,
  knownKeys,
  signal,
} = check;

/** A finite duration in milliseconds, at least `min`. */
export function finiteDuration(name: string, value: unknown, min: number): number {
  const message = `Expected \`${name}\` to be a finite number of milliseconds >= ${min}, got ${show(value)}`;
  if (typeof value !== 'number') throw new TypeError(message);
  if (!(value >= min) || !Number.isFinite(value)) throw new RangeError(message);
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`Expected \`${name}\` to be a boolean, got ${show(value)}`);
  }
  return value;
}
