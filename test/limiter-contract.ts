/**
 * The behaviour every doorman limiter promises, as one suite parameterised by
 * a factory: `Semaphore`, `AdaptiveSemaphore` and `RedisSemaphore` run the
 * same tests (test/limiter-contract.test.ts). Only what all of them promise is
 * here: limit, FIFO hand-off, weights without overtaking,
 * maxQueue, timeouts and aborts that leave the line, idempotent release,
 * `run`, `await using`,
 * counters, the wait hook, close, and the live numbers returning to 0.
 *
 * A limiter may be asynchronous (a Redis round trip between `acquire` and its
 * answer), so the tests never assume an acquire settles in the same tick:
 * they wait on promises, on `vi.waitFor`, or on the factory's `settle()`,
 * which resolves once every acquire already made has had its answer.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type AcquireOptions,
  isDoormanError,
  type Limiter,
  type LimiterCounters,
  type Permit,
} from '@doorman/semaphore';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { exposeGc } from './support/gc.js';

/** What the contract needs beyond `Limiter`: both implementations have it. */
export interface ContractLimiter extends Limiter, AsyncDisposable {
  readonly isClosed: boolean;
  close(reason?: unknown): Promise<void>;
  idle(): Promise<void>;
  run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<T>;
}

export interface ContractOptions {
  limit: number;
  maxQueue?: number;
  queueTimeoutMs?: number;
  name?: string;
}

export interface LimiterFactory {
  /** A fresh limiter, sharing nothing with any other made before. */
  make(options: ContractOptions): ContractLimiter;
  /** Resolves once every `acquire` already called has had its answer (admitted, queued or refused). */
  settle(): Promise<void>;
  /** Once before the suite (connect). */
  setup?(): Promise<void>;
  /** Once after the suite (disconnect). */
  teardown?(): Promise<void>;
  /** After each test, once its limiters are closed and idle: check nothing was left behind. */
  verifyClean?(limiter: ContractLimiter): Promise<void>;
}

/** A promise whose state can be read synchronously. */
class Tracked<T> {
  state: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  value: T | undefined;
  error: unknown;
  constructor(readonly promise: Promise<T>) {
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
  get permit(): T {
    expect(this.state).toBe('fulfilled');
    return this.value as T;
  }
}

const track = <T>(promise: Promise<T>) => new Tracked(promise);

function expectCode(error: unknown, code: string): void {
  expect(isDoormanError(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

const zeroRejected = { queue_full: 0, timeout: 0, aborted: 0, closed: 0, unavailable: 0 };

export function limiterContract(label: string, factory: LimiterFactory): void {
  describe(`Limiter contract: ${label}`, () => {
    let made: ContractLimiter[] = [];
    const make = (options: ContractOptions): ContractLimiter => {
      const limiter = factory.make(options);
      made.push(limiter);
      return limiter;
    };

    beforeAll(async () => {
      await factory.setup?.();
    });

    afterAll(async () => {
      await factory.teardown?.();
    });

    afterEach(async () => {
      const limiters = made;
      made = [];
      for (const limiter of limiters) {
        // Every test gives back what it took: the numbers are 0 and stay so.
        await limiter.close();
        await limiter.idle();
        expect(limiter.inUse).toBe(0);
        expect(limiter.waiting).toBe(0);
        const c = limiter.counters;
        expect(c.acquired).toBe(c.released);
        await factory.verifyClean?.(limiter);
      }
    });

    /** Acquires `n` permits one after the other, so they join the line in this order. */
    const queue = (limiter: ContractLimiter, n: number, options = {}) =>
      Array.from({ length: n }, () => track(limiter.acquire(options)));

    it('never holds more than limit, and admits the next when one is released', async () => {
      const limiter = make({ limit: 3 });
      const first = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
      expect(limiter.inUse).toBe(3);
      const fourth = track(limiter.acquire());
      await factory.settle();
      expect(fourth.state).toBe('pending');
      expect(limiter.waiting).toBe(1);
      first[0]?.release();
      const permit = await fourth.promise;
      expect(limiter.inUse).toBe(3);
      for (const p of [...first.slice(1), permit]) p.release();
      expect(limiter.inUse).toBe(0);
    });

    it('keeps concurrency at or under limit while many tasks contend', async () => {
      const limiter = make({ limit: 4 });
      let active = 0;
      let peak = 0;
      const task = async () => {
        for (let i = 0; i < 5; i++) {
          const permit = await limiter.acquire();
          active++;
          peak = Math.max(peak, active);
          expect(limiter.inUse).toBeLessThanOrEqual(4);
          await new Promise<void>((resolve) => setImmediate(resolve));
          active--;
          permit.release();
        }
      };
      await Promise.all(Array.from({ length: 12 }, task));
      expect(peak).toBeLessThanOrEqual(4);
      expect(peak).toBeGreaterThan(0);
      expect(limiter.counters.acquired).toBe(60);
    });

    it('hands off in arrival order (FIFO)', async () => {
      const limiter = make({ limit: 1 });
      const holder = await limiter.acquire();
      const waiters = queue(limiter, 4);
      await factory.settle();
      expect(limiter.waiting).toBe(4);
      const order: number[] = [];
      let current: Permit = holder;
      for (let round = 0; round < 4; round++) {
        current.release();
        const next = await Promise.race(
          waiters
            .map((w, i) => w.promise.then((p) => ({ p, i })))
            .filter((_, i) => !order.includes(i)),
        );
        order.push(next.i);
        current = next.p;
      }
      current.release();
      expect(order).toEqual([0, 1, 2, 3]);
    });

    it('serves weights in order: a heavy head is not overtaken by a lighter waiter', async () => {
      const limiter = make({ limit: 3 });
      const holder = await limiter.acquire({ weight: 2 });
      const heavy = track(limiter.acquire({ weight: 2 }));
      const light = track(limiter.acquire({ weight: 1 }));
      await factory.settle();
      // 1 unit is free and `light` would fit, but `heavy` is ahead of it.
      expect(heavy.state).toBe('pending');
      expect(light.state).toBe('pending');
      expect(limiter.inUse).toBe(2);
      holder.release();
      const [h, l] = await Promise.all([heavy.promise, light.promise]);
      expect(h.weight).toBe(2);
      expect(l.weight).toBe(1);
      expect(limiter.inUse).toBe(3);
      h.release();
      l.release();
    });

    it('admits a heavy head only when enough units are free', async () => {
      const limiter = make({ limit: 4 });
      const a = await limiter.acquire({ weight: 2 });
      const b = await limiter.acquire({ weight: 2 });
      const heavy = track(limiter.acquire({ weight: 4 }));
      await factory.settle();
      a.release();
      await factory.settle();
      expect(heavy.state).toBe('pending');
      b.release();
      const permit = await heavy.promise;
      expect(limiter.inUse).toBe(4);
      permit.release();
    });

    it('rejects with a RangeError a weight above limit, and with a TypeError a non-number', async () => {
      const limiter = make({ limit: 2 });
      await expect(limiter.acquire({ weight: 3 })).rejects.toThrow(RangeError);
      await expect(limiter.acquire({ weight: 0 })).rejects.toThrow(RangeError);
      await expect(limiter.acquire({ weight: '1' as never })).rejects.toThrow(TypeError);
      expect(limiter.counters.rejected).toEqual(zeroRejected);
    });

    it('rejects with QUEUE_FULL once maxQueue acquirers wait', async () => {
      const limiter = make({ limit: 1, maxQueue: 2 });
      const holder = await limiter.acquire();
      const waiters = queue(limiter, 2);
      await factory.settle();
      const error = await limiter.acquire().catch((e: unknown) => e);
      expectCode(error, 'QUEUE_FULL');
      expect(limiter.counters.rejected.queue_full).toBe(1);
      expect(limiter.waiting).toBe(2);
      holder.release();
      for (const w of waiters) (await w.promise).release();
    });

    it('sheds at once with maxQueue 0 when nothing is free', async () => {
      const limiter = make({ limit: 1, maxQueue: 0 });
      const holder = await limiter.acquire();
      const error = await limiter.acquire().catch((e: unknown) => e);
      expectCode(error, 'QUEUE_FULL');
      holder.release();
      (await limiter.acquire()).release();
    });

    it('times out with QUEUE_TIMEOUT, and the timed-out waiter leaves the line', async () => {
      const limiter = make({ limit: 1 });
      const holder = await limiter.acquire();
      const impatient = track(limiter.acquire({ timeoutMs: 30 }));
      const patient = track(limiter.acquire());
      const error = await impatient.promise.catch((e: unknown) => e);
      expectCode(error, 'QUEUE_TIMEOUT');
      expect(limiter.waiting).toBe(1);
      expect(limiter.counters.rejected.timeout).toBe(1);
      holder.release();
      (await patient.promise).release();
      expect(impatient.state).toBe('rejected');
    });

    it('applies queueTimeoutMs to every acquire, and timeoutMs overrides it', async () => {
      const limiter = make({ limit: 1, queueTimeoutMs: 30 });
      const holder = await limiter.acquire();
      const byDefault = limiter.acquire().catch((e: unknown) => e);
      expectCode(await byDefault, 'QUEUE_TIMEOUT');
      const longer = track(limiter.acquire({ timeoutMs: 60_000 }));
      await factory.settle();
      holder.release();
      (await longer.promise).release();
    });

    it('when a heavy head times out, the lighter waiters behind it are served', async () => {
      const limiter = make({ limit: 2 });
      const holder = await limiter.acquire();
      const heavy = track(limiter.acquire({ weight: 2, timeoutMs: 30 }));
      const light = track(limiter.acquire({ weight: 1 }));
      expectCode(await heavy.promise.catch((e: unknown) => e), 'QUEUE_TIMEOUT');
      const permit = await light.promise;
      expect(limiter.inUse).toBe(2);
      permit.release();
      holder.release();
    });

    it('rejects with signal.reason on abort, and the aborted waiter leaves the line', async () => {
      const limiter = make({ limit: 1 });
      const holder = await limiter.acquire();
      const controller = new AbortController();
      const aborted = track(limiter.acquire({ signal: controller.signal }));
      const next = track(limiter.acquire());
      await factory.settle();
      const reason = new Error('client went away');
      controller.abort(reason);
      expect(await aborted.promise.catch((e: unknown) => e)).toBe(reason);
      expect(limiter.waiting).toBe(1);
      expect(limiter.counters.rejected.aborted).toBe(1);
      holder.release();
      (await next.promise).release();
    });

    it('rejects at once with the reason of an already-aborted signal', async () => {
      const limiter = make({ limit: 1 });
      const reason = { why: 'gone' };
      const error = await limiter
        .acquire({ signal: AbortSignal.abort(reason) })
        .catch((e: unknown) => e);
      expect(error).toBe(reason);
      expect(limiter.counters.rejected.aborted).toBe(1);
      expect(limiter.inUse).toBe(0);
    });

    it('loses no permit when an abort races the grant', async () => {
      const limiter = make({ limit: 1 });
      for (let round = 0; round < 10; round++) {
        const holder = await limiter.acquire();
        const controller = new AbortController();
        const racing = track(limiter.acquire({ signal: controller.signal }));
        const behind = track(limiter.acquire());
        await factory.settle();
        holder.release();
        if (round % 2 === 0) controller.abort(new Error('late'));
        else await Promise.resolve().then(() => controller.abort(new Error('late')));
        // Either the racing waiter kept the permit, or it went straight to the next one.
        const kept = await racing.promise.then(
          (p) => p,
          () => undefined,
        );
        kept?.release();
        (await behind.promise).release();
      }
      expect(limiter.inUse).toBe(0);
    });

    it('makes a second release harmless', async () => {
      const limiter = make({ limit: 1 });
      const permit = await limiter.acquire();
      permit.release();
      expect(permit.released).toBe(true);
      permit.release();
      permit[Symbol.dispose]();
      expect(limiter.counters.released).toBe(1);
      expect(limiter.inUse).toBe(0);
      // The limit was not raised: one holder, the next one waits.
      const again = await limiter.acquire();
      const second = track(limiter.acquire());
      await factory.settle();
      expect(second.state).toBe('pending');
      again.release();
      again.release();
      (await second.promise).release();
      expect(limiter.counters.acquired).toBe(3);
      expect(limiter.counters.released).toBe(3);
    });

    it('run holds a permit while fn works, and gives back what fn returned', async () => {
      const limiter = make({ limit: 1 });
      let finish: (value: string) => void = () => {};
      const result = limiter.run(
        () =>
          new Promise<string>((resolve) => {
            finish = resolve;
          }),
      );
      await vi.waitFor(() => expect(limiter.inUse).toBe(1));
      const next = track(limiter.acquire());
      await factory.settle();
      expect(next.state).toBe('pending');
      finish('sung');
      expect(await result).toBe('sung');
      (await next.promise).release();
      expect(limiter.counters.released).toBe(2);
    });

    it('run releases when fn throws or rejects, and rejects with its error', async () => {
      const limiter = make({ limit: 1 });
      const thrown = new Error('thrown');
      const rejected = new Error('rejected');
      await expect(
        limiter.run(() => {
          throw thrown;
        }),
      ).rejects.toBe(thrown);
      await expect(limiter.run(() => Promise.reject(rejected))).rejects.toBe(rejected);
      expect(limiter.inUse).toBe(0);
      expect(limiter.counters).toMatchObject({ acquired: 2, released: 2 });
    });

    it('run refuses a non-function with a TypeError and takes nothing', async () => {
      const limiter = make({ limit: 1 });
      await expect(limiter.run('sing' as never)).rejects.toThrow(
        /Expected `fn` to be a function, got `'sing'` \(string\)/,
      );
      expect(limiter.counters.acquired).toBe(0);
    });

    it('run passes its options to acquire: a full line refuses it without calling fn', async () => {
      const limiter = make({ limit: 1, maxQueue: 0 });
      const held = await limiter.acquire();
      let called = false;
      const error = await limiter
        .run(() => {
          called = true;
        })
        .catch((e: unknown) => e);
      expectCode(error, 'QUEUE_FULL');
      expect(called).toBe(false);
      held.release();
    });

    it('closes at the end of an `await using` block', async () => {
      let closed: ContractLimiter | undefined;
      {
        await using limiter = make({ limit: 1 });
        closed = limiter;
        (await limiter.acquire()).release();
      }
      expect(closed.isClosed).toBe(true);
    });

    it('keeps no reference to the signal of an acquire that has settled', async () => {
      const limiter = make({ limit: 1 });
      const gc = exposeGc();
      const refs: Array<WeakRef<AbortSignal>> = [];
      const acquireWith = (): Promise<Permit> => {
        const signal = new AbortController().signal;
        refs.push(new WeakRef(signal));
        return limiter.acquire({ signal });
      };
      const first = await acquireWith(); // admitted at once
      const queued = acquireWith(); // waits for the first
      await factory.settle();
      first.release();
      (await queued).release();
      await factory.settle();
      await vi.waitFor(() => {
        gc();
        expect(refs.map((ref) => ref.deref() === undefined)).toEqual([true, true]);
      });
    });

    it('releases at the end of a `using` block', async () => {
      const limiter = make({ limit: 1 });
      {
        using permit = await limiter.acquire();
        expect(permit.released).toBe(false);
        expect(limiter.inUse).toBe(1);
      }
      expect(limiter.inUse).toBe(0);
    });

    it('keeps counters that balance over a mix of outcomes', async () => {
      const limiter = make({ limit: 2, maxQueue: 3 });
      const a = await limiter.acquire();
      const b = await limiter.acquire();
      const controller = new AbortController();
      const toAbort = track(limiter.acquire({ signal: controller.signal }));
      const toTimeOut = track(limiter.acquire({ timeoutMs: 30 }));
      const toServe = track(limiter.acquire());
      await factory.settle();
      const full = await limiter.acquire().catch((e: unknown) => e);
      expectCode(full, 'QUEUE_FULL');
      controller.abort(new Error('stop'));
      expectCode(await toTimeOut.promise.catch((e: unknown) => e), 'QUEUE_TIMEOUT');
      a.release();
      (await toServe.promise).release();
      b.release();
      await toAbort.promise.catch(() => {});
      const c: LimiterCounters = limiter.counters;
      // A limiter may keep more counters (a RedisSemaphore: leasesLost, failOpen).
      expect(c).toMatchObject({
        acquired: 3,
        released: 3,
      });
      expect(c.rejected).toEqual({
        queue_full: 1,
        timeout: 1,
        aborted: 1,
        closed: 0,
        unavailable: 0,
      });
      expect(limiter.inUse).toBe(0);
      await vi.waitFor(() => expect(limiter.waiting).toBe(0));
    });

    it('reports each admission to onWait: 0 when immediate, the wait otherwise', async () => {
      const limiter = make({ limit: 1 });
      const waits: number[] = [];
      const off = limiter.onWait((ms) => waits.push(ms));
      const first = await limiter.acquire();
      expect(waits).toEqual([0]);
      const second = track(limiter.acquire());
      await factory.settle();
      first.release();
      (await second.promise).release();
      expect(waits).toHaveLength(2);
      expect(waits[1]).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(waits[1])).toBe(true);
      off();
      (await limiter.acquire()).release();
      expect(waits).toHaveLength(2);
    });

    it('close rejects every waiter and every later acquire with CLOSED; holders release as usual', async () => {
      const limiter = make({ limit: 1, name: 'closing' });
      const holder = await limiter.acquire();
      const waiters = queue(limiter, 3);
      await factory.settle();
      await limiter.close('shutting down');
      for (const w of waiters) {
        const error = await w.promise.catch((e: unknown) => e);
        expectCode(error, 'CLOSED');
        expect((error as { limiter?: string }).limiter).toBe('closing');
      }
      expect(limiter.waiting).toBe(0);
      expectCode(await limiter.acquire().catch((e: unknown) => e), 'CLOSED');
      expect(limiter.counters.rejected.closed).toBe(4);
      expect(limiter.inUse).toBe(1);
      const idle = track(limiter.idle());
      await factory.settle();
      expect(idle.state).toBe('pending');
      holder.release();
      await idle.promise;
      expect(limiter.inUse).toBe(0);
    });

    it('resumes a waiter in its own async context, not that of the releaser', async () => {
      const limiter = make({ limit: 1 });
      const store = new AsyncLocalStorage<string>();
      const holder = await store.run('holder', () => limiter.acquire());
      const seen = store.run('waiter', async () => {
        const permit = await limiter.acquire();
        const context = store.getStore();
        permit.release();
        return context;
      });
      await factory.settle();
      store.run('releaser', () => holder.release());
      expect(await seen).toBe('waiter');
    });

    it('returns inUse and waiting to 0 after any mix of outcomes', async () => {
      const limiter = make({ limit: 2, maxQueue: 10 });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 16 }, async (_, i) => {
          const controller = new AbortController();
          const pending = limiter.acquire({
            signal: controller.signal,
            timeoutMs: i % 5 === 0 ? 20 : 10_000,
            weight: (i % 2) + 1,
          });
          if (i % 7 === 3) controller.abort(new Error('abort'));
          const permit = await pending;
          await new Promise<void>((resolve) => setImmediate(resolve));
          permit.release();
          if (i % 3 === 0) permit.release();
        }),
      );
      expect(outcomes).toHaveLength(16);
      await limiter.idle();
      expect(limiter.inUse).toBe(0);
      expect(limiter.waiting).toBe(0);
      const c = limiter.counters;
      const rejected = Object.values(c.rejected).reduce((s, n) => s + n, 0);
      expect(c.acquired + rejected).toBe(16);
      expect(c.acquired).toBe(c.released);
    });
  });
}
