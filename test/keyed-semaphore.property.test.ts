/**
 * Property-based tests of KeyedSemaphore (fair shares under a totalLimit)
 * against the reference model in keyed-semaphore.model.ts.
 *
 * Each run builds a KeyedSemaphore with random options and plays a random list
 * of operations over a few keys: acquire (weights, priorities, timeouts, live
 * and already aborted signals), release, tryAcquire, abort (any waiter: head,
 * middle, tail, the only one), time passing, setLimit, close and idle. After
 * every step the microtask queue is flushed and the semaphore is compared
 * with the model: who was admitted in which order, who was rejected how, the
 * live numbers (per key too), counters, idle() promises. Invariants are also
 * checked on their own: never more than `limit` per key nor `totalLimit` in
 * total, no idle key kept. keyed-round-robin.property.test.ts pins the round
 * robin itself.
 */
import { isDoormanError, KeyedSemaphore, type Permit } from '@doorman/semaphore';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type KeyedConfig, KeyedModel, type Order, type Outcome } from './keyed-semaphore.model.js';

const KEYS = ['a', 'b', 'c', 'd'] as const;

type Op =
  | {
      kind: 'acquire';
      key: string;
      weight: number;
      priority: number;
      timeoutMs: number | undefined;
      signal: 'none' | 'live' | 'aborted';
    }
  | { kind: 'release'; pick: number }
  | { kind: 'tryAcquire'; key: string; weight: number }
  | { kind: 'abort'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'setLimit'; limit: number }
  | { kind: 'close' }
  | { kind: 'idle' };

const NAME = 'fair';
const CLOSE_REASON = { closedBy: 'the property' };

function compare(where: string, observed: object, expected: object): void {
  const got = observed as Record<string, unknown>;
  const want = expected as Record<string, unknown>;
  const lines: string[] = [];
  for (const key of Object.keys(want)) {
    const a = JSON.stringify(got[key]);
    const b = JSON.stringify(want[key]);
    if (a !== b) lines.push(`${key} is ${a} but the model says ${b}`);
  }
  if (lines.length > 0) throw new Error(`${where}: ${lines.join('; ')}`);
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function classify(error: unknown, reason: object | undefined): Outcome | string {
  if (reason !== undefined && error === reason) return 'ABORTED';
  if (isDoormanError(error, 'QUEUE_FULL') && error.limiter === NAME) return 'QUEUE_FULL';
  if (isDoormanError(error, 'QUEUE_TIMEOUT') && error.limiter === NAME) return 'QUEUE_TIMEOUT';
  if (isDoormanError(error, 'CLOSED') && error.cause === CLOSE_REASON) return 'CLOSED';
  if (error instanceof RangeError) return 'RANGE';
  return `unexpected: ${String(error)}`;
}

async function runScenario(cfg: KeyedConfig, ops: Op[], closeFirst: boolean): Promise<void> {
  vi.useFakeTimers();
  try {
    const sem = new KeyedSemaphore({
      limit: cfg.limit,
      totalLimit: cfg.totalLimit,
      maxQueue: cfg.maxQueue,
      queueTimeoutMs: cfg.queueTimeoutMs,
      order: cfg.order,
      name: NAME,
    });
    const model = new KeyedModel(cfg);
    const permits = new Map<number, Permit>();
    const controllers = new Map<number, AbortController>();
    const reasons = new Map<number, object>();
    const settled = new Map<number, number>();
    let nextId = 0;
    let idles = 0;
    let idleResolved = 0;
    let shrunk = false;
    let admitted: number[] = [];
    let rejected: Array<[number, Outcome | string]> = [];
    let idled: number[] = [];

    const apply = (op: Op, where: string): void => {
      switch (op.kind) {
        case 'acquire': {
          const id = nextId++;
          const controller = op.signal === 'none' ? undefined : new AbortController();
          const reason = controller === undefined ? undefined : { aborted: id };
          if (op.signal === 'aborted') controller?.abort(reason);
          if (op.signal === 'live') {
            controllers.set(id, controller as AbortController);
            reasons.set(id, reason as object);
          }
          sem
            .acquire({
              key: op.key,
              weight: op.weight,
              priority: op.priority,
              timeoutMs: op.timeoutMs,
              signal: controller?.signal,
            })
            .then(
              (permit) => {
                settled.set(id, (settled.get(id) ?? 0) + 1);
                permits.set(id, permit);
                admitted.push(id);
              },
              (error: unknown) => {
                settled.set(id, (settled.get(id) ?? 0) + 1);
                rejected.push([id, classify(error, reason)]);
              },
            );
          model.acquire(id, op.key, op.weight, op.priority, op.timeoutMs, op.signal === 'aborted');
          return;
        }
        case 'tryAcquire': {
          const id = nextId++;
          let got: number | 'throws' | undefined;
          try {
            const permit = sem.tryAcquire(op.weight, op.key);
            if (permit !== undefined) {
              permits.set(id, permit);
              got = id;
            }
          } catch (error) {
            expect(error, `${where}: tryAcquire error`).toBeInstanceOf(RangeError);
            got = 'throws';
          }
          expect(got, `${where}: tryAcquire result`).toBe(model.tryAcquire(id, op.key, op.weight));
          return;
        }
        case 'release': {
          const live = model.holders.filter((h) => !h.released);
          const holder = live[op.pick % Math.max(1, live.length)];
          if (holder === undefined) return;
          permits.get(holder.id)?.release();
          model.release(holder);
          return;
        }
        case 'abort': {
          // Any waiter with a live signal still queued: head, middle, tail or alone.
          const queued = [...model.keys.values()]
            .flatMap((k) => k.queue)
            .filter((w) => controllers.has(w.id));
          const w = queued[op.pick % Math.max(1, queued.length)];
          if (w === undefined) return;
          const controller = controllers.get(w.id) as AbortController;
          controller.abort(reasons.get(w.id));
          model.abort(w.id);
          return;
        }
        case 'advance':
          vi.advanceTimersByTime(op.ms);
          model.advance(op.ms);
          return;
        case 'setLimit':
          if (op.limit < model.limit) shrunk = true;
          sem.setLimit(op.limit);
          model.setLimit(op.limit);
          return;
        case 'close':
          void sem.close(CLOSE_REASON);
          model.close();
          return;
        case 'idle': {
          const id = idles++;
          void sem.idle().then(() => {
            idled.push(id);
            idleResolved++;
          });
          model.idle(id);
          return;
        }
      }
    };

    let step = 0;
    const play = async (op: Op): Promise<void> => {
      const where = `step ${step++} ${JSON.stringify(op)}`;
      admitted = [];
      rejected = [];
      idled = [];
      model.beginStep();
      apply(op, where);
      await flushMicrotasks();
      const byId = (x: [number, unknown], y: [number, unknown]) => x[0] - y[0];
      // An acquire admitted in its own call resolves before its caller attaches
      // `then`, so it is seen after the waiters its call admitted as well.
      const own = op.kind === 'acquire' ? nextId - 1 : -1;
      const expectedAdmitted = model.admitted.includes(own)
        ? [...model.admitted.filter((id) => id !== own), own]
        : model.admitted;
      const perKey = (f: (key: string) => number) => KEYS.map(f);
      compare(
        where,
        {
          admitted,
          rejected: rejected.sort(byId),
          idled,
          inUse: sem.inUse,
          waiting: sem.waiting,
          activeKeys: sem.activeKeys,
          waitingKeys: sem.waitingKeys,
          inUseOf: perKey((k) => sem.inUseOf(k)),
          waitingOf: perKey((k) => sem.waitingOf(k)),
          counters: sem.counters,
        },
        {
          admitted: expectedAdmitted,
          rejected: model.rejected.sort(byId),
          idled: model.idled,
          inUse: model.held,
          waiting: model.waiting,
          activeKeys: model.keys.size,
          waitingKeys: model.waitingKeys,
          inUseOf: perKey((k) => model.heldBy(k)),
          waitingOf: perKey((k) => model.waitingOf(k)),
          counters: model.counters,
        },
      );
      // On their own, without the model.
      expect(sem.inUse, `${where}: above totalLimit`).toBeLessThanOrEqual(sem.totalLimit);
      if (!shrunk) {
        for (const k of KEYS) {
          expect(sem.inUseOf(k), `${where}: key ${k} above limit`).toBeLessThanOrEqual(sem.limit);
        }
      }
      const inUseKeys = KEYS.filter((k) => sem.inUseOf(k) > 0 || sem.waitingOf(k) > 0).length;
      expect(sem.activeKeys, `${where}: an idle key is kept`).toBe(inUseKeys);
    };

    for (const op of ops) await play(op);

    // Wind down: releasing everything must admit every waiter in time (no
    // key starves), then close; or close first and release.
    const releaseAll = async () => {
      while (model.holders.some((h) => !h.released)) await play({ kind: 'release', pick: 0 });
    };
    if (closeFirst) {
      await play({ kind: 'close' });
      await releaseAll();
    } else {
      await releaseAll();
      expect(sem.waiting, 'end: nobody waits once everything is released').toBe(0);
      await play({ kind: 'close' });
    }
    expect(sem.inUse, 'end: inUse').toBe(0);
    expect(sem.activeKeys, 'end: keys').toBe(0);
    expect(vi.getTimerCount(), 'end: pending timers').toBe(0);
    for (const [id, count] of settled) expect(count, `end: #${id} settled once`).toBe(1);
    expect(idleResolved, 'end: every idle() resolved').toBe(idles);
    const c = sem.counters;
    expect(c.released, 'end: every admission released').toBe(c.acquired);
  } finally {
    vi.useRealTimers();
  }
}

const int = (min: number, max: number) => fc.noBias(fc.integer({ min, max }));

const configArb: fc.Arbitrary<KeyedConfig> = fc.record({
  limit: int(1, 4),
  totalLimit: fc.option(int(1, 6), { nil: undefined, freq: 5 }),
  maxQueue: fc.oneof(
    { withCrossShrink: true },
    { weight: 2, arbitrary: fc.constant(Number.POSITIVE_INFINITY) },
    int(0, 4),
  ),
  queueTimeoutMs: fc.option(int(1, 10), { nil: undefined }),
  order: fc.constantFrom<Order>('fifo', 'lifo'),
});

const keyArb = fc.constantFrom(...KEYS);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 24,
    arbitrary: fc.record({
      kind: fc.constant('acquire' as const),
      key: keyArb,
      weight: fc.oneof(
        { withCrossShrink: true },
        { weight: 10, arbitrary: fc.constant(1) },
        { weight: 4, arbitrary: fc.constant(2) },
        { weight: 2, arbitrary: fc.constant(3) },
        { weight: 1, arbitrary: fc.constant(5) },
      ),
      priority: fc.oneof(
        { withCrossShrink: true },
        { weight: 4, arbitrary: fc.constant(0) },
        fc.constant(1),
      ),
      timeoutMs: fc.option(int(1, 10), { nil: undefined, freq: 3 }),
      signal: fc.constantFrom<'none' | 'live' | 'aborted'>('none', 'live', 'live', 'aborted'),
    }),
  },
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat(30) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('tryAcquire' as const),
      key: keyArb,
      weight: int(1, 3),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat(30) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: int(1, 6) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('setLimit' as const), limit: int(1, 5) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'idle' as const }) },
);

afterEach(() => {
  vi.useRealTimers();
});

describe('KeyedSemaphore against a reference model', () => {
  it('matches the model step by step under random interleavings', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(opArb, { maxLength: 40, size: 'max' }),
        fc.boolean(),
        runScenario,
      ),
      { numRuns: 800, includeErrorInReport: true },
    );
  }, 120_000);
});
