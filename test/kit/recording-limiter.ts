import type {
  AcquireOptions,
  Limiter,
  LimiterCounters,
  Permit,
  ReleaseOutcome,
  WaitListener,
} from '@doorman/semaphore';

/** What the recording limiter saw of one permit it handed out. */
export interface PermitRecord {
  /** How it was granted: at once through `tryAcquire`, or by `acquire` (maybe after waiting). */
  via: 'tryAcquire' | 'acquire';
  /** How many times `release()` was called on it (the adapter must call it exactly once). */
  releases: number;
  /** The outcome given to the first `release(outcome)` (undefined: none given, or not released). */
  outcome: ReleaseOutcome | undefined;
}

type Closable = { close?(reason?: unknown): Promise<void>; idle?(): Promise<void> };

/**
 * A real limiter behind a `Limiter` of its own shape that records what an
 * adapter does with it: the options of each `acquire`, each permit it hands
 * out, how often and with which outcome each one is released. So a test can
 * tell a permit released twice (harmless to the semaphore, a bug in the
 * adapter) or released as `'success'` when the handler failed.
 */
export class RecordingLimiter<L extends Limiter = Limiter> implements Limiter {
  readonly permits: PermitRecord[] = [];
  readonly acquires: Array<AcquireOptions | undefined> = [];
  /** The outcome of each permit's first release, in the order of release (none given: `'success'`). */
  readonly releaseOrder: ReleaseOutcome[] = [];

  constructor(readonly inner: L) {}

  get name(): string {
    return this.inner.name;
  }
  get limit(): number {
    return this.inner.limit;
  }
  get inUse(): number {
    return this.inner.inUse;
  }
  get waiting(): number {
    return this.inner.waiting;
  }
  get counters(): LimiterCounters {
    return this.inner.counters;
  }
  onWait(listener: WaitListener): () => void {
    return this.inner.onWait(listener);
  }
  async acquire(options?: AcquireOptions): Promise<Permit> {
    this.acquires.push(options === undefined ? undefined : { ...options });
    return this.record(await this.inner.acquire(options), 'acquire');
  }
  tryAcquire(weight?: number): Permit | undefined {
    const permit = this.inner.tryAcquire?.(weight);
    return permit === undefined ? undefined : this.record(permit, 'tryAcquire');
  }
  close(reason?: unknown): Promise<void> {
    return (this.inner as Closable).close?.(reason) ?? Promise.resolve();
  }
  idle(): Promise<void> {
    return (this.inner as Closable).idle?.() ?? Promise.resolve();
  }

  /** Release outcomes in order of grant, `undefined` (no outcome given) read as `'success'`. */
  outcomes(): Array<ReleaseOutcome | 'not released'> {
    return this.permits.map((p) => (p.releases === 0 ? 'not released' : (p.outcome ?? 'success')));
  }

  private record(permit: Permit, via: PermitRecord['via']): Permit {
    const entry: PermitRecord = { via, releases: 0, outcome: undefined };
    const releaseOrder = this.releaseOrder;
    this.permits.push(entry);
    return {
      weight: permit.weight,
      get released() {
        return permit.released;
      },
      release(outcome?: ReleaseOutcome) {
        entry.releases++;
        if (entry.releases === 1) {
          entry.outcome = outcome;
          releaseOrder.push(outcome ?? 'success');
        }
        permit.release(outcome);
      },
      [Symbol.dispose]() {
        this.release();
      },
    };
  }
}
