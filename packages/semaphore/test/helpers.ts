import type { Permit } from '@doorman/semaphore';
import { expect } from 'vitest';

/** A promise whose state the test can read synchronously after `flush()`. */
export class Tracked<T> {
  state: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  value: T | undefined = undefined;
  error: unknown = undefined;

  constructor(readonly promise: Promise<T>) {
    // Handles the rejection at once, so no test ever sees an unhandled rejection.
    promise.then(
      (value) => {
        this.state = 'fulfilled';
        this.value = value;
      },
      (error: unknown) => {
        this.state = 'rejected';
        this.error = error;
      },
    );
  }

  /** The fulfilled value; fails the test if the promise is not fulfilled. */
  get result(): T {
    expect(this.state, 'expected the promise to be fulfilled').toBe('fulfilled');
    return this.value as T;
  }
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  return new Tracked(promise);
}

/** Lets every pending promise callback run (no timers involved, so it works with fake timers). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

export { type Deferred, deferred } from '../../../test/kit/index.js';

/**
 * With a limit of 1 and every waiter of weight 1: releases the current holder,
 * sees which single waiter got in, releases that one, and so on. Returns the
 * labels in the order they were admitted.
 */
export async function admissionOrder(
  holder: Permit,
  waiters: Record<string, Tracked<Permit>>,
): Promise<string[]> {
  const order: string[] = [];
  let current: Permit | undefined = holder;
  while (current !== undefined) {
    current.release();
    await flush();
    const admitted = Object.entries(waiters).filter(
      ([label, t]) => t.state === 'fulfilled' && !order.includes(label),
    );
    expect(admitted.length).toBeLessThanOrEqual(1);
    const next = admitted[0];
    if (next === undefined) break;
    order.push(next[0]);
    current = next[1].value;
  }
  return order;
}
