import { check } from '@doorman/semaphore/internal';

/**
 * Fastify reads `done(undefined)` as "go on": a throw or rejection without a
 * reason must still stop the request, so it becomes an error (as Fastify
 * does for its own async hooks).
 */
export function asError(error: unknown): Error {
  if (error) return error as Error;
  return new Error(`onRejected failed with ${check.show(error)}`);
}
