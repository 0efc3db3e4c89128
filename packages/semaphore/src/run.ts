import type { AcquireOptions, Permit } from './limiter.js';
import { show } from './validate.js';

/**
 * `run(fn, options)` for every limiter: acquire, run `fn`, release whatever
 * `fn` does. Work that throws or rejects is released as `'dropped'`, as the
 * HTTP adapters release a failed handler, so a limiter that learns from
 * outcomes reads it as a failure.
 */
export async function runWithPermit<T>(
  limiter: { acquire(options?: AcquireOptions): Promise<Permit> },
  fn: () => T | PromiseLike<T>,
  options: AcquireOptions | undefined,
): Promise<T> {
  if (typeof fn !== 'function') {
    throw new TypeError(`Expected \`fn\` to be a function, got ${show(fn)}`);
  }
  const permit = await limiter.acquire(options);
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    permit.release('dropped');
    throw error;
  }
  permit.release();
  return result;
}
