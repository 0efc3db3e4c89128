/**
 * Property-based tests of the core semaphore against a small reference model.
 *
 * Each run builds a Semaphore with random options and plays a random list of
 * operations on it: acquire (weights, priorities, timeouts, live and already
 * aborted signals), release (also twice, also through Symbol.dispose),
 * tryAcquire, setLimit, abort, advancing the fake clock, close and idle. After
 * every step the microtask queue is flushed and everything the semaphore shows
 * is compared with the model: live numbers, who was admitted in which order,
 * who was rejected with which error, counters, wait times reported to the
 * hook, pending timers and idle() promises. A few invariants are also checked
 * on their own, without the model. Each run ends by releasing everything
 * and/or closing, after which nothing may be held, queued or pending.
 */
import {
  isDoormanError,
  LimiterClosedError,
  type LimiterCounters,
  type Permit,
  QueueFullError,
  QueueTimeoutError,
  Semaphore,
} from '@doorman/semaphore';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';

type Order = 'fifo' | 'lifo';

interface Config {
  limit: number;
  maxQueue: number;
  queueTimeoutMs: number | undefined;
  order: Order;
}

type SignalKind = 'none' | 'live' | 'aborted';

/**
 * One step. `pick` chooses by index, modulo the number of candidates: for
 * `release`, among every permit granted so far in the order granted (released
 * ones included, to release twice); for `abort`, among the acquires given a live
 * signal (only those still queued unless `anyone`, to abort after the fact too).
 */
type Op =
  | {
      kind: 'acquire';
      weight: number;
      priority: number;
      timeoutMs: number | undefined;
      signal: SignalKind;
    }
  | { kind: 'release'; pick: number; via: 'release' | 'dispose' }
  | { kind: 'tryAcquire'; weight: number }
  | { kind: 'setLimit'; limit: number }
  | { kind: 'abort'; pick: number; anyone: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'close' }
  | { kind: 'idle' };

/** How an acquire settled. `RANGE` is the RangeError of a weight above the limit. */
type Outcome = 'ADMITTED' | 'QUEUE_FULL' | 'QUEUE_TIMEOUT' | 'CLOSED' | 'ABORTED' | 'RANGE';

function show(op: Op): string {
  switch (op.kind) {
    case 'acquire': {
      const parts = [`w=${op.weight}`];
      if (op.priority !== 0) parts.push(`p=${op.priority}`);
      if (op.timeoutMs !== undefined) parts.push(`t=${op.timeoutMs}`);
      if (op.signal !== 'none') parts.push(`signal=${op.signal}`);
      return `acquire(${parts.join(' ')})`;
    }
    case 'release':
      return `${op.via}(#${op.pick})`;
    case 'tryAcquire':
      return `tryAcquire(${op.weight})`;
    case 'setLimit':
      return `setLimit(${op.limit})`;
    case 'abort':
      return `abort(${op.anyone ? 'any' : 'queued'} #${op.pick})`;
    case 'advance':
      return `advance(${op.ms}ms)`;
    case 'close':
      return 'close()';
    case 'idle':
      return 'idle()';
  }
}

/** Gives an op a compact form in fast-check's counterexample report. */
function printable<T extends Op>(op: T): T {
  const copy = { ...op };
  Object.defineProperty(copy, fc.toStringMethod, { value: () => show(copy), enumerable: false });
  return copy;
}

// ---------------------------------------------------------------------------
// The reference model: a plain array for the queue and a counter for the units.
// ---------------------------------------------------------------------------

interface ModelWaiter {
  id: number;
  weight: number;
  priority: number;
  /** Enqueue order. */
  seq: number;
  enqueuedAt: number;
  /** Infinity when the waiter has no timeout (and so no timer). */
  deadline: number;
  /**
   * When its timer fires next. A timeout longer than setTimeout's limit is
   * waited in pieces of at most MAX_DELAY, so this can come before the deadline.
   */
  timerAt: number;
  /** Timer creation order: timers due at the same instant fire in this order. */
  timerSeq: number;
}

/** The longest delay setTimeout honours (longer ones fire at once). */
const MAX_DELAY = 2 ** 31 - 1;
/** A timeout past setTimeout's limit: the semaphore has to wait for it in two pieces. */
const LONG_TIMEOUT = MAX_DELAY + 3;

interface ModelHolder {
  label: string;
  weight: number;
  released: boolean;
}

class Model {
  limit: number;
  held = 0;
  closed = false;
  now = 0;
  queue: ModelWaiter[] = [];
  holders: ModelHolder[] = [];
  outcomes = new Map<number, Outcome>();
  counters: LimiterCounters = {
    acquired: 0,
    released: 0,
    rejected: { queue_full: 0, timeout: 0, aborted: 0, closed: 0, unavailable: 0 },
  };
  pendingIdle: number[] = [];
  // What happened during the current step.
  admitted: number[] = [];
  rejected: Array<[number, Outcome]> = [];
  waits: number[] = [];
  idled: number[] = [];

  private seq = 0;
  private timerSeq = 0;

  constructor(readonly cfg: Config) {
    this.limit = cfg.limit;
  }

  beginStep(): void {
    this.admitted = [];
    this.rejected = [];
    this.waits = [];
    this.idled = [];
  }

  /** Highest priority first; ties: oldest (fifo) or newest (lifo). */
  head(): ModelWaiter | undefined {
    let best: ModelWaiter | undefined;
    for (const w of this.queue) {
      if (
        best === undefined ||
        w.priority > best.priority ||
        (w.priority === best.priority &&
          (this.cfg.order === 'lifo' ? w.seq > best.seq : w.seq < best.seq))
      ) {
        best = w;
      }
    }
    return best;
  }

  get timers(): number {
    return this.queue.filter((w) => w.deadline !== Number.POSITIVE_INFINITY).length;
  }

  private settle(id: number, outcome: Outcome): void {
    this.outcomes.set(id, outcome);
    if (outcome === 'ADMITTED') this.admitted.push(id);
    else this.rejected.push([id, outcome]);
  }

  private admit(id: number, weight: number, waited: number): void {
    this.held += weight;
    this.counters.acquired++;
    this.waits.push(waited);
    this.holders.push({ label: `a${id}`, weight, released: false });
    this.settle(id, 'ADMITTED');
  }

  private unqueue(w: ModelWaiter): boolean {
    const wasHead = this.head() === w;
    this.queue.splice(this.queue.indexOf(w), 1);
    return wasHead;
  }

  private drain(): void {
    for (let w = this.head(); w !== undefined; w = this.head()) {
      if (this.held + w.weight > this.limit) break;
      this.unqueue(w);
      this.admit(w.id, w.weight, this.now - w.enqueuedAt);
    }
  }

  private checkIdle(): void {
    if (this.held !== 0 || this.queue.length !== 0) return;
    this.idled.push(...this.pendingIdle);
    this.pendingIdle = [];
  }

  acquire(id: number, op: Extract<Op, { kind: 'acquire' }>): void {
    if (op.weight > this.limit) {
      this.settle(id, 'RANGE');
      return;
    }
    if (this.closed) {
      this.counters.rejected.closed++;
      this.settle(id, 'CLOSED');
      return;
    }
    if (op.signal === 'aborted') {
      this.counters.rejected.aborted++;
      this.settle(id, 'ABORTED');
      return;
    }
    // Admitted at once when it fits and nobody queued comes first: the queue is
    // empty, or the newcomer would land at its head (a higher priority than
    // every waiter, or lifo with the top priority). Such a newcomer never
    // waits, so the queue bound does not apply to it.
    if (this.held + op.weight <= this.limit && this.landsAtHead(op.priority)) {
      this.admit(id, op.weight, 0);
      return;
    }
    if (this.queue.length >= this.cfg.maxQueue) {
      this.counters.rejected.queue_full++;
      this.settle(id, 'QUEUE_FULL');
      return;
    }
    const timeout = op.timeoutMs ?? this.cfg.queueTimeoutMs ?? Number.POSITIVE_INFINITY;
    const w: ModelWaiter = {
      id,
      weight: op.weight,
      priority: op.priority,
      seq: this.seq++,
      enqueuedAt: this.now,
      deadline: this.now + timeout,
      timerAt: this.now + Math.min(timeout, MAX_DELAY),
      timerSeq: timeout === Number.POSITIVE_INFINITY ? -1 : this.timerSeq++,
    };
    this.queue.push(w);
    // Had it landed at the head and fitted, it was admitted above; the head
    // it joins (or is) does not fit, so nobody else is admitted either.
    this.drain();
  }

  private landsAtHead(priority: number): boolean {
    const top = this.head();
    if (top === undefined) return true;
    return priority > top.priority || (this.cfg.order === 'lifo' && priority === top.priority);
  }

  /** Returns the holder label, `undefined` for no permit, or 'throws' for a RangeError. */
  tryAcquire(label: string, weight: number): string | undefined {
    if (weight > this.limit) return 'throws';
    if (this.closed || this.queue.length !== 0 || this.held + weight > this.limit) return undefined;
    this.held += weight;
    this.counters.acquired++;
    this.waits.push(0);
    this.holders.push({ label, weight, released: false });
    return label;
  }

  release(holder: ModelHolder): void {
    if (holder.released) return;
    holder.released = true;
    this.held -= holder.weight;
    this.counters.released++;
    this.drain();
    this.checkIdle();
  }

  setLimit(limit: number): void {
    const shrinking = limit < this.limit;
    this.limit = limit;
    if (shrinking) {
      for (const w of [...this.queue]) {
        if (w.weight > limit) {
          // No room in the line any more: refused as QUEUE_FULL, and counted.
          this.unqueue(w);
          this.counters.rejected.queue_full++;
          this.settle(w.id, 'QUEUE_FULL');
        }
      }
    }
    this.drain();
    this.checkIdle();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.queue) {
      this.counters.rejected.closed++;
      this.settle(w.id, 'CLOSED');
    }
    this.queue = [];
    this.checkIdle();
  }

  abort(id: number): void {
    const w = this.queue.find((q) => q.id === id);
    if (w === undefined) return; // settled already: the permit (or the rejection) stands
    const wasHead = this.unqueue(w);
    this.counters.rejected.aborted++;
    this.settle(id, 'ABORTED');
    if (wasHead) this.drain();
    this.checkIdle();
  }

  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: ModelWaiter | undefined;
      for (const w of this.queue) {
        if (w.timerAt > target) continue;
        if (
          next === undefined ||
          w.timerAt < next.timerAt ||
          (w.timerAt === next.timerAt && w.timerSeq < next.timerSeq)
        ) {
          next = w;
        }
      }
      if (next === undefined) break;
      this.now = next.timerAt;
      if (next.deadline > this.now) {
        // A piece of a long timeout is over: the timer is armed again for the rest.
        next.timerAt = this.now + Math.min(next.deadline - this.now, MAX_DELAY);
        next.timerSeq = this.timerSeq++;
        continue;
      }
      const wasHead = this.unqueue(next);
      this.counters.rejected.timeout++;
      this.settle(next.id, 'QUEUE_TIMEOUT');
      if (wasHead) this.drain();
      this.checkIdle();
    }
    this.now = target;
  }

  idle(id: number): void {
    this.pendingIdle.push(id);
    this.checkIdle();
  }
}

// ---------------------------------------------------------------------------
// The system under test, with every settlement recorded.
// ---------------------------------------------------------------------------

interface Tracked {
  id: number;
  weight: number;
  controller: AbortController | undefined;
  reason: object | undefined;
  settleCount: number;
  outcome: Outcome | undefined;
  permit: Permit | undefined;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/**
 * Throws one readable line per field that differs, e.g.
 * `step 4 advance(1ms): admitted is [] but the model says [1]`.
 */
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

const NAME = 'prop';
/** Given to close(); every LimiterClosedError carries it as its cause. */
const CLOSE_REASON = { closedBy: 'the property' };

/** Names a rejection by its error, checking the error's class, code, limiter and cause. */
function classify(error: unknown, t: Tracked): Outcome | string {
  if (t.reason !== undefined && error === t.reason) return 'ABORTED';
  if (isDoormanError(error) && error.limiter !== NAME) {
    return `unexpected: limiter ${String(error.limiter)} in ${error.message}`;
  }
  if (error instanceof QueueFullError && isDoormanError(error, 'QUEUE_FULL')) return 'QUEUE_FULL';
  if (error instanceof QueueTimeoutError && isDoormanError(error, 'QUEUE_TIMEOUT')) {
    return 'QUEUE_TIMEOUT';
  }
  if (error instanceof LimiterClosedError && isDoormanError(error, 'CLOSED')) {
    return error.cause === CLOSE_REASON ? 'CLOSED' : 'unexpected: CLOSED without the close reason';
  }
  if (error instanceof RangeError && !isDoormanError(error)) return 'RANGE';
  return `unexpected: ${String(error)}`;
}

async function runScenario(cfg: Config, ops: Op[], closeFirst: boolean): Promise<void> {
  vi.useFakeTimers();
  try {
    const sem = new Semaphore({
      limit: cfg.limit,
      maxQueue: cfg.maxQueue,
      queueTimeoutMs: cfg.queueTimeoutMs,
      order: cfg.order,
      name: NAME,
    });
    const model = new Model(cfg);
    const tracked: Tracked[] = [];
    const signalled: number[] = []; // ids of acquires with a live signal, for `abort`
    const permits = new Map<string, Permit>();
    let tries = 0;
    let idles = 0;
    let idleResolved = 0;

    // Per-step logs of the real semaphore.
    let admitted: number[] = [];
    let rejected: Array<[number, Outcome | string]> = [];
    let waits: number[] = [];
    let idled: number[] = [];
    sem.onWait((ms) => waits.push(ms));

    const apply = (op: Op, where: string): void => {
      switch (op.kind) {
        case 'acquire': {
          const id = tracked.length;
          const controller = op.signal === 'none' ? undefined : new AbortController();
          const reason = controller === undefined ? undefined : { abortedAcquire: id };
          if (op.signal === 'aborted') controller?.abort(reason);
          if (op.signal === 'live') signalled.push(id);
          const t: Tracked = {
            id,
            weight: op.weight,
            controller,
            reason,
            settleCount: 0,
            outcome: undefined,
            permit: undefined,
          };
          tracked.push(t);
          sem
            .acquire({
              weight: op.weight,
              priority: op.priority,
              timeoutMs: op.timeoutMs,
              signal: controller?.signal,
            })
            .then(
              (permit) => {
                t.settleCount++;
                t.outcome = 'ADMITTED';
                t.permit = permit;
                admitted.push(id);
                permits.set(`a${id}`, permit);
              },
              (error: unknown) => {
                t.settleCount++;
                const outcome = classify(error, t);
                if (outcome !== 'ADMITTED' && !outcome.startsWith('unexpected')) {
                  t.outcome = outcome as Outcome;
                }
                rejected.push([id, outcome]);
              },
            );
          model.acquire(id, op);
          return;
        }
        case 'tryAcquire': {
          const label = `t${tries++}`;
          let got: string | undefined;
          try {
            const permit = sem.tryAcquire(op.weight);
            if (permit !== undefined) {
              expect(permit.weight, `${where}: tryAcquire permit weight`).toBe(op.weight);
              permits.set(label, permit);
              got = label;
            }
          } catch (error) {
            expect(error, `${where}: tryAcquire error`).toBeInstanceOf(RangeError);
            got = 'throws';
          }
          expect(got, `${where}: tryAcquire result`).toBe(model.tryAcquire(label, op.weight));
          return;
        }
        case 'release': {
          if (model.holders.length === 0) return;
          const holder = model.holders[op.pick % model.holders.length] as ModelHolder;
          const permit = permits.get(holder.label);
          expect(permit, `${where}: permit ${holder.label} exists`).toBeDefined();
          if (op.via === 'dispose') permit?.[Symbol.dispose]();
          else permit?.release();
          expect(permit?.released, `${where}: ${holder.label}.released`).toBe(true);
          model.release(holder);
          return;
        }
        case 'setLimit':
          sem.setLimit(op.limit);
          model.setLimit(op.limit);
          return;
        case 'abort': {
          const queued = signalled.filter((i) => !model.outcomes.has(i));
          const among = op.anyone || queued.length === 0 ? signalled : queued;
          if (among.length === 0) return;
          const id = among[op.pick % among.length] as number;
          const t = tracked[id] as Tracked;
          if (t.controller?.signal.aborted) return;
          t.controller?.abort(t.reason);
          model.abort(id);
          return;
        }
        case 'advance':
          vi.advanceTimersByTime(op.ms);
          model.advance(op.ms);
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
      const where = `step ${step++} ${show(op)}`;
      const before = { inUse: sem.inUse, acquired: sem.counters.acquired };
      admitted = [];
      rejected = [];
      waits = [];
      idled = [];
      model.beginStep();

      apply(op, where);
      await flushMicrotasks();

      // Against the model: a failure names every field that differs.
      const byId = (x: [number, unknown], y: [number, unknown]) => x[0] - y[0];
      const observed = {
        admitted,
        rejected: rejected.sort(byId),
        waits,
        idled,
        limit: sem.limit,
        inUse: sem.inUse,
        waiting: sem.waiting,
        available: sem.available,
        closed: sem.isClosed,
        counters: sem.counters,
        timers: vi.getTimerCount(),
        outcomes: tracked.map((t) => t.outcome),
      };
      const expected = {
        admitted: model.admitted,
        rejected: model.rejected.sort(byId),
        waits: model.waits,
        idled: model.idled,
        limit: model.limit,
        inUse: model.held,
        waiting: model.queue.length,
        available: Math.max(0, model.limit - model.held),
        closed: model.closed,
        counters: model.counters,
        timers: model.timers,
        outcomes: tracked.map((t) => model.outcomes.get(t.id)),
      };
      compare(where, observed, expected);

      // Invariants on their own, without the model.
      for (const id of admitted) {
        const t = tracked[id] as Tracked;
        check(t.permit?.weight === t.weight, `${where}: #${id} got a permit of its weight`);
        check(t.permit?.released === false, `${where}: #${id} got a fresh permit`);
      }
      for (const t of tracked) check(t.settleCount <= 1, `${where}: #${t.id} settled twice`);
      check(sem.inUse >= 0, `${where}: inUse is negative`);
      if (sem.inUse > sem.limit) {
        // Only after a shrink, and then nobody is admitted: inUse only falls.
        check(sem.counters.acquired === before.acquired, `${where}: admitted above the limit`);
        check(sem.inUse <= before.inUse, `${where}: inUse rose while above the limit`);
      }
      if (sem.waiting > 0) {
        // With nothing held, the head would fit: a non-empty queue means units are held.
        check(sem.inUse > 0, `${where}: waiters while nothing is held`);
        check(!sem.isClosed, `${where}: waiters on a closed semaphore`);
      }
    };

    for (const op of ops) await play(op);

    // Wind down: close and/or release every permit still held (releasing may
    // admit waiters, whose permits are released in turn).
    const releaseAll = async () => {
      for (let i = 0; i < model.holders.length; i++) {
        if (!model.holders[i]?.released) await play({ kind: 'release', pick: i, via: 'release' });
      }
    };
    if (closeFirst) {
      await play({ kind: 'close' });
      await releaseAll();
    } else {
      await releaseAll();
      await play({ kind: 'close' });
    }

    expect(sem.inUse, 'end: inUse').toBe(0);
    expect(sem.waiting, 'end: waiting').toBe(0);
    expect(vi.getTimerCount(), 'end: pending timers').toBe(0);
    for (const t of tracked) {
      expect(t.settleCount, `end: #${t.id} settled exactly once`).toBe(1);
    }
    expect(idleResolved, 'end: every idle() resolved').toBe(idles);
    const c = sem.counters;
    expect(c.released, 'end: every admission released').toBe(c.acquired);
    const ranges = tracked.filter((t) => t.outcome === 'RANGE').length;
    const rejectedTotal = Object.values(c.rejected).reduce((a, b) => a + b, 0);
    const admittedAcquires = tracked.filter((t) => t.outcome === 'ADMITTED').length;
    expect(admittedAcquires + rejectedTotal + ranges, 'end: every acquire accounted for').toBe(
      tracked.length,
    );
    let resolvedIdle = false;
    void sem.idle().then(() => {
      resolvedIdle = true;
    });
    await flushMicrotasks();
    expect(resolvedIdle, 'end: idle() resolves').toBe(true);
  } finally {
    vi.useRealTimers();
  }
}

// ---------------------------------------------------------------------------
// Arbitraries: small configurations and short operation lists.
// ---------------------------------------------------------------------------

/** An integer in [min, max], drawn uniformly (fast-check otherwise favours the ends). */
const int = (min: number, max: number) => fc.noBias(fc.integer({ min, max }));

const configArb: fc.Arbitrary<Config> = fc.record({
  limit: fc.oneof({ withCrossShrink: true }, { weight: 3, arbitrary: int(2, 4) }, fc.constant(1)),
  maxQueue: fc.oneof(
    { withCrossShrink: true },
    { weight: 2, arbitrary: fc.constant(Number.POSITIVE_INFINITY) },
    int(0, 4),
  ),
  queueTimeoutMs: fc.option(int(1, 10), { nil: undefined }),
  order: fc.constantFrom<Order>('fifo', 'lifo'),
});

const acquireArb = fc
  .record({
    kind: fc.constant('acquire' as const),
    // Mostly light weights, so several fit at once; now and then one above any limit.
    weight: fc.oneof(
      { withCrossShrink: true },
      { weight: 10, arbitrary: fc.constant(1) },
      { weight: 6, arbitrary: fc.constant(2) },
      { weight: 3, arbitrary: fc.constant(3) },
      { weight: 1, arbitrary: fc.constant(5) },
    ),
    priority: fc.oneof(
      { withCrossShrink: true },
      { weight: 3, arbitrary: fc.constant(0) },
      fc.constantFrom(-1, 1, 2),
    ),
    timeoutMs: fc.option(
      fc.oneof(
        { withCrossShrink: true },
        { weight: 20, arbitrary: int(1, 10) },
        fc.constant(LONG_TIMEOUT),
      ),
      { nil: undefined, freq: 2 },
    ),
    signal: fc.oneof(
      { withCrossShrink: true },
      { weight: 4, arbitrary: fc.constant<SignalKind>('none') },
      { weight: 4, arbitrary: fc.constant<SignalKind>('live') },
      { weight: 1, arbitrary: fc.constant<SignalKind>('aborted') },
    ),
  })
  .map(printable);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 24, arbitrary: acquireArb },
  {
    weight: 10,
    arbitrary: fc
      .record({
        kind: fc.constant('release' as const),
        pick: fc.nat({ max: 30 }),
        via: fc.constantFrom<'release' | 'dispose'>('release', 'dispose'),
      })
      .map(printable),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ kind: fc.constant('tryAcquire' as const), weight: int(1, 5) })
      .map(printable),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({ kind: fc.constant('setLimit' as const), limit: int(1, 5) })
      .map(printable),
  },
  {
    weight: 6,
    arbitrary: fc
      .record({
        kind: fc.constant('abort' as const),
        pick: fc.nat({ max: 30 }),
        // Mostly a waiter still queued; now and then any signalled acquire, settled or not.
        anyone: fc.oneof(
          { withCrossShrink: true },
          { weight: 4, arbitrary: fc.constant(false) },
          fc.constant(true),
        ),
      })
      .map(printable),
  },
  {
    weight: 6,
    arbitrary: fc
      .record({
        kind: fc.constant('advance' as const),
        ms: fc.oneof(
          { withCrossShrink: true },
          { weight: 20, arbitrary: int(1, 6) },
          fc.constant(MAX_DELAY),
        ),
      })
      .map(printable),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }).map(printable) },
  { weight: 2, arbitrary: fc.constant({ kind: 'idle' as const }).map(printable) },
);

afterEach(() => {
  vi.useRealTimers();
});

describe('Semaphore against a reference model', () => {
  it('matches the model step by step under random interleavings', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(opArb, { maxLength: 30, size: 'max' }),
        fc.boolean(),
        async (cfg, ops, closeFirst) => runScenario(cfg, ops, closeFirst),
      ),
      { numRuns: 1000, includeErrorInReport: true },
    );
  }, 60_000);
});

// ---------------------------------------------------------------------------
// The wait queue on its own (through the Semaphore): many priorities, many
// waiters, waiters leaving from anywhere. With limit 1 and the single unit
// always held, each release admits exactly the next waiter, so the order of
// admissions is the order of the queue.
// ---------------------------------------------------------------------------

type QueueOp =
  | { kind: 'push'; priority: number }
  | { kind: 'leave'; pick: number }
  | { kind: 'serve' };

const queueOpArb: fc.Arbitrary<QueueOp> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      priority: fc.oneof(
        { withCrossShrink: true },
        { weight: 6, arbitrary: int(-4, 4) },
        fc.constantFrom(-0, 0.5, -2.5, 1e9, -1e9),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), pick: fc.nat(60) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('serve' as const) }) },
);

async function runQueueScenario(order: Order, ops: QueueOp[]): Promise<void> {
  const sem = new Semaphore({ limit: 1, order });
  let holder = sem.tryAcquire() as Permit;
  // The model: the queued waiters, in arrival order.
  const queued: Array<{ id: number; priority: number; controller: AbortController }> = [];
  const admitted: number[] = [];
  const served: number[] = [];
  const permits = new Map<number, Permit>();
  let next = 0;

  const head = () => {
    let best: (typeof queued)[number] | undefined;
    for (const w of queued) {
      // `queued` is in arrival order: on a tie fifo keeps the first, lifo takes the last.
      if (best === undefined || w.priority > best.priority) best = w;
      else if (w.priority === best.priority && order === 'lifo') best = w;
    }
    return best;
  };
  const serve = async (where: string) => {
    const expected = head();
    holder.release();
    await flushMicrotasks();
    if (expected === undefined) {
      check(admitted.length === served.length, `${where}: nobody was waiting, yet someone got in`);
      holder = sem.tryAcquire() as Permit;
      check(holder !== undefined, `${where}: the free unit could not be taken`);
      return;
    }
    queued.splice(queued.indexOf(expected), 1);
    served.push(expected.id);
    check(
      JSON.stringify(admitted) === JSON.stringify(served),
      `${where}: admitted ${JSON.stringify(admitted)}, expected ${JSON.stringify(served)}`,
    );
    holder = permits.get(expected.id) as Permit;
  };

  for (const [i, op] of ops.entries()) {
    const where = `step ${i} ${JSON.stringify(op)}`;
    if (op.kind === 'push') {
      const id = next++;
      const controller = new AbortController();
      queued.push({ id, priority: op.priority, controller });
      sem.acquire({ priority: op.priority, signal: controller.signal }).then(
        (permit) => {
          permits.set(id, permit);
          admitted.push(id);
        },
        () => {},
      );
    } else if (op.kind === 'leave') {
      const w = queued[op.pick % Math.max(1, queued.length)];
      if (w !== undefined) {
        queued.splice(queued.indexOf(w), 1);
        w.controller.abort();
      }
    } else {
      await serve(where);
    }
    await flushMicrotasks();
    check(
      sem.waiting === queued.length,
      `${where}: ${sem.waiting} waiting, expected ${queued.length}`,
    );
  }
  // Drain what is left: the rest must come out in queue order too.
  while (queued.length > 0) await serve('drain');
  holder.release();
  check(sem.inUse === 0 && sem.waiting === 0, 'end: the semaphore is not idle');
}

describe('Semaphore queue order', () => {
  it('serves the highest priority first, ties in fifo or lifo order, whoever leaves', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Order>('fifo', 'lifo'),
        fc.array(queueOpArb, { maxLength: 60, size: 'max' }),
        runQueueScenario,
      ),
      { numRuns: 1000, includeErrorInReport: true },
    );
  }, 60_000);
});
