// What each library is asked to do in each scenario. Every subject has its own
// loops (no shared adapter call in the hot path), and the worker process loads
// exactly one subject, so the JIT never sees two libraries in one process.
//
// Shapes. Each factory makes one limiter that the worker keeps for the whole
// process, as a server would (a fresh limiter per repetition would let its
// death deoptimise the code specialised on it):
//   uncontended() -> (n) => ...   n acquire + release pairs, one after the other, nobody waits
//   handoff()     -> (n) => done  limit 1, n tasks started at once; resolves when the last is done
//   queue()       -> a limit-1 limiter for scaling and memory:
//     hold()                    take the only slot (awaited before timing starts)
//     enqueue(ps, n, deadline)  fills ps[0..n) with waiters' promises; returns how many it queued
//     drain(ps, n, deadline)    frees the slot; each waiter, once admitted, frees it at once;
//                               resolves with how many were admitted; the limiter is then idle
//
// `deadline` is a performance.now() value; loops check it every 4096 steps so a
// library that is too slow at a size gives up instead of blowing the time budget.

import { pathToFileURL } from 'node:url';

const CHECK = 4095;

// run.mjs builds the package and passes a snapshot of dist/esm, so a rebuild by
// someone else during a run cannot change what is measured. Run by hand, the
// worker loads the package's built ESM entry (the `import` condition of its exports).
const doormanEntry = process.env.DOORMAN_BENCH_ENTRY;
const loadDoorman = () =>
  import(doormanEntry ? pathToFileURL(doormanEntry).href : '@doorman/semaphore');

/** @typedef {{ hold(): Promise<void>, enqueue(ps: unknown[], n: number, deadline: number): number, drain(ps: unknown[], n: number, deadline: number): Promise<number> }} Queue */

/**
 * @typedef {object} Subject
 * @property {string} label
 * @property {string} call      what one operation is, in the library's own terms
 * @property {(() => (n: number) => Promise<void>) | undefined} [uncontended]
 * @property {(() => (n: number) => Promise<number>) | undefined} [handoff]
 * @property {(() => Queue) | undefined} [queue]
 */

/** @type {Record<string, () => Promise<Subject>>} */
export const subjects = {
  async doorman() {
    const { Semaphore } = await loadDoorman();
    return {
      label: 'doorman `acquire`',
      call: '`const p = await sem.acquire(); p.release()`: a Permit object and a resolved promise per call',
      uncontended() {
        const sem = new Semaphore({ limit: 10 });
        return async (n) => {
          for (let i = 0; i < n; i++) {
            const permit = await sem.acquire();
            permit.release();
          }
        };
      },
      handoff() {
        const sem = new Semaphore({ limit: 1 });
        let done = 0;
        const task = async () => {
          const permit = await sem.acquire();
          try {
            done++;
          } finally {
            permit.release();
          }
        };
        return async (n) => {
          const start = done;
          const tasks = new Array(n);
          for (let i = 0; i < n; i++) tasks[i] = task();
          await tasks[n - 1];
          return done - start;
        };
      },
      queue() {
        const sem = new Semaphore({ limit: 1 });
        let held;
        return {
          async hold() {
            held = sem.tryAcquire();
          },
          enqueue(ps, n, deadline) {
            for (let i = 0; i < n; i++) {
              if ((i & CHECK) === 0 && performance.now() > deadline) return i;
              ps[i] = sem.acquire();
            }
            return n;
          },
          async drain(ps, n, deadline) {
            let permit = held;
            for (let i = 0; i < n; i++) {
              if ((i & CHECK) === 0 && performance.now() > deadline) return i;
              permit.release();
              permit = await ps[i];
            }
            permit.release();
            return n;
          },
        };
      },
    };
  },

  async 'doorman:try'() {
    const { Semaphore } = await loadDoorman();
    return {
      label: 'doorman `tryAcquire`',
      call: '`sem.tryAcquire().release()`: synchronous, a Permit object per call, no promise',
      uncontended() {
        const sem = new Semaphore({ limit: 10 });
        return async (n) => {
          for (let i = 0; i < n; i++) {
            const permit = sem.tryAcquire();
            permit.release();
          }
        };
      },
    };
  },

  async 'doorman:run'() {
    const { Semaphore } = await loadDoorman();
    return {
      label: 'doorman `run`',
      call: '`sem.run(fn)`: acquire, call fn, release in finally (an async function around acquire)',
      handoff() {
        const sem = new Semaphore({ limit: 1 });
        let done = 0;
        const work = () => {
          done++;
        };
        return async (n) => {
          const start = done;
          const tasks = new Array(n);
          for (let i = 0; i < n; i++) tasks[i] = sem.run(work);
          await tasks[n - 1];
          return done - start;
        };
      },
    };
  },

  async 'async-sema'() {
    const { Sema } = await import('async-sema');
    return {
      label: 'async-sema',
      call: '`await s.acquire(); s.release()`: acquire is an async function; release emits an EventEmitter event',
      uncontended() {
        const s = new Sema(10);
        return async (n) => {
          for (let i = 0; i < n; i++) {
            await s.acquire();
            s.release();
          }
        };
      },
      handoff() {
        const s = new Sema(1);
        let done = 0;
        const task = async () => {
          await s.acquire();
          try {
            done++;
          } finally {
            s.release();
          }
        };
        return async (n) => {
          const start = done;
          const tasks = new Array(n);
          for (let i = 0; i < n; i++) tasks[i] = task();
          await tasks[n - 1];
          return done - start;
        };
      },
      queue() {
        const s = new Sema(1);
        return {
          async hold() {
            await s.acquire();
          },
          enqueue(ps, n, deadline) {
            for (let i = 0; i < n; i++) {
              if ((i & CHECK) === 0 && performance.now() > deadline) return i;
              ps[i] = s.acquire();
            }
            return n;
          },
          async drain(ps, n, deadline) {
            for (let i = 0; i < n; i++) {
              if ((i & CHECK) === 0 && performance.now() > deadline) return i;
              s.release();
              await ps[i];
            }
            s.release();
            return n;
          },
        };
      },
    };
  },

  async 'async-sema:try'() {
    const { Sema } = await import('async-sema');
    return {
      label: 'async-sema `tryAcquire`',
      call: '`s.release(s.tryAcquire())`: synchronous token pop; release still goes through an EventEmitter',
      uncontended() {
        const s = new Sema(10);
        return async (n) => {
          for (let i = 0; i < n; i++) {
            const token = s.tryAcquire();
            s.release(token);
          }
        };
      },
    };
  },

  async 'async-mutex'() {
    const { Semaphore } = await import('async-mutex');
    return {
      label: 'async-mutex `Semaphore`',
      call: '`const [, release] = await sem.acquire(); release()`: a new promise, a [value, releaser] array and a releaser closure per call',
      uncontended() {
        const sem = new Semaphore(10);
        return async (n) => {
          for (let i = 0; i < n; i++) {
            const [, release] = await sem.acquire();
            release();
          }
        };
      },
      handoff() {
        const sem = new Semaphore(1);
        let done = 0;
        const task = async () => {
          const [, release] = await sem.acquire();
          try {
            done++;
          } finally {
            release();
          }
        };
        return async (n) => {
          const start = done;
          const tasks = new Array(n);
          for (let i = 0; i < n; i++) tasks[i] = task();
          await tasks[n - 1];
          return done - start;
        };
      },
      queue() {
        const sem = new Semaphore(1);
        let held;
        return {
          async hold() {
            [, held] = await sem.acquire();
          },
          enqueue(ps, n, deadline) {
            for (let i = 0; i < n; i++) {
              if ((i & CHECK) === 0 && performance.now() > deadline) return i;
              ps[i] = sem.acquire();
            }
            return n;
          },
          async drain(ps, n, deadline) {
            let release = held;
            for (let i = 0; i < n; i++) {
              if ((i & CHECK) === 0 && performance.now() > deadline) return i;
              release();
              [, release] = await ps[i];
            }
            release();
            return n;
          },
        };
      },
    };
  },

  async 'p-limit'() {
    const { default: pLimit } = await import('p-limit');
    return {
      label: 'p-limit',
      call: '`await limit(fn)`: wraps a function; every call goes through its queue and several promises, and runs fn',
      uncontended() {
        const limit = pLimit(10);
        const fn = () => undefined;
        return async (n) => {
          for (let i = 0; i < n; i++) await limit(fn);
        };
      },
      handoff() {
        const limit = pLimit(1);
        let done = 0;
        const work = () => {
          done++;
        };
        return async (n) => {
          const start = done;
          const tasks = new Array(n);
          for (let i = 0; i < n; i++) tasks[i] = limit(work);
          await tasks[n - 1];
          return done - start;
        };
      },
      queue() {
        const limit = pLimit(1);
        let unblock;
        let done = 0;
        const work = () => {
          done++;
        };
        return {
          async hold() {
            const started = new Promise((resolve) => {
              limit(
                () =>
                  new Promise((r) => {
                    unblock = r;
                    resolve();
                  }),
              );
            });
            await started;
          },
          enqueue(ps, n, deadline) {
            for (let i = 0; i < n; i++) {
              if ((i & CHECK) === 0 && performance.now() > deadline) return i;
              ps[i] = limit(work);
            }
            return n;
          },
          // p-limit drains by itself (each finished fn starts the next); there is
          // no step of ours to check the deadline in, so the parent's kill timer
          // is the budget here.
          async drain(ps, n) {
            const start = done;
            unblock();
            await ps[n - 1];
            return done - start;
          },
        };
      },
    };
  },

  async 'p-queue'() {
    const { default: PQueue } = await import('p-queue');
    return {
      label: 'p-queue',
      call: '`await queue.add(fn)`: wraps a function; copies options, makes an id, a Symbol and a closure per call, emits events, runs fn',
      uncontended() {
        const queue = new PQueue({ concurrency: 10 });
        const fn = () => undefined;
        return async (n) => {
          for (let i = 0; i < n; i++) await queue.add(fn);
        };
      },
      handoff() {
        const queue = new PQueue({ concurrency: 1 });
        let done = 0;
        const work = () => {
          done++;
        };
        return async (n) => {
          const start = done;
          const tasks = new Array(n);
          for (let i = 0; i < n; i++) tasks[i] = queue.add(work);
          await tasks[n - 1];
          return done - start;
        };
      },
      queue() {
        const queue = new PQueue({ concurrency: 1 });
        let unblock;
        let done = 0;
        const work = () => {
          done++;
        };
        return {
          async hold() {
            const started = new Promise((resolve) => {
              queue.add(
                () =>
                  new Promise((r) => {
                    unblock = r;
                    resolve();
                  }),
              );
            });
            await started;
          },
          enqueue(ps, n, deadline) {
            for (let i = 0; i < n; i++) {
              if ((i & CHECK) === 0 && performance.now() > deadline) return i;
              ps[i] = queue.add(work);
            }
            return n;
          },
          async drain(ps, n) {
            const start = done;
            unblock();
            await ps[n - 1];
            return done - start;
          },
        };
      },
    };
  },
};
