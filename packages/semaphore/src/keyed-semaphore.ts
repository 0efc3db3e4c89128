import { LimiterClosedError, type RejectionReason, rejectionReasons as reasons } from './errors.js';
import type {
  AcquireOptions,
  LimiterCounters,
  LimiterStats,
  Permit,
  WaitListener,
} from './limiter.js';
import { Semaphore, type SemaphoreOptions } from './semaphore.js';
import * as check from './validate.js';
import { WaitListeners } from './wait-listeners.js';

/** The semaphore of one key; it tells its parent when it becomes idle. */
class KeySemaphore extends Semaphore {
  constructor(
    options: SemaphoreOptions,
    private readonly parent: KeyedSemaphore,
    readonly key: string,
  ) {
    super(options);
  }

  protected override becameIdle(): void {
    this.parent.retire(this);
  }
}

/**
 * A separate limit per key (tenant, API key, client address): each key gets
 * its own `Semaphore` with the same options, made on first use and dropped as
 * soon as it is idle, so memory follows the keys in use now, not every key
 * ever seen. Its numbers add up all keys under one `name`, so metrics keep one
 * label value whatever keys clients send.
 */
export class KeyedSemaphore implements LimiterStats {
  readonly name: string;
  private readonly options: SemaphoreOptions;
  private readonly semaphores = new Map<string, KeySemaphore>();
  private readonly retired: LimiterCounters = emptyCounters();
  private readonly waits: WaitListeners;
  private closed = false;
  // One dispatcher shared by every key's semaphore, made once.
  private readonly forwardWait: WaitListener = (waitMs) => {
    if (this.waits.list !== undefined) this.waits.emit(waitMs);
  };

  constructor(options: SemaphoreOptions) {
    // Validates every option once, here, by building a throwaway semaphore.
    const probe = new Semaphore(options);
    this.name = probe.name;
    this.options = { ...options, name: probe.name };
    this.waits = new WaitListeners(probe.name);
  }

  /** The limit of each key. */
  get limit(): number {
    return this.options.limit;
  }

  /** Units held now, over all keys. */
  get inUse(): number {
    let sum = 0;
    for (const semaphore of this.semaphores.values()) sum += semaphore.inUse;
    return sum;
  }

  /** Acquirers waiting now, over all keys. */
  get waiting(): number {
    let sum = 0;
    for (const semaphore of this.semaphores.values()) sum += semaphore.waiting;
    return sum;
  }

  /** Keys with a permit held or a waiter queued now. */
  get size(): number {
    return this.semaphores.size;
  }

  get counters(): LimiterCounters {
    const total = emptyCounters();
    add(total, this.retired);
    for (const semaphore of this.semaphores.values()) add(total, semaphore.counters);
    return total;
  }

  /** The semaphore of `key`, made if needed. It is dropped again once idle. */
  get(key: string): Semaphore {
    if (typeof key !== 'string') {
      throw new TypeError(`Expected \`key\` to be a string, got ${check.show(key)}`);
    }
    let semaphore = this.semaphores.get(key);
    if (semaphore === undefined) {
      semaphore = new KeySemaphore(this.options, this, key);
      semaphore.onWait(this.forwardWait);
      this.semaphores.set(key, semaphore);
    }
    return semaphore;
  }

  /** Acquires from the semaphore of `key`. */
  acquire(key: string, options?: AcquireOptions): Promise<Permit> {
    if (this.closed) {
      this.retired.rejected.closed++;
      return Promise.reject(new LimiterClosedError(this.name));
    }
    let semaphore: Semaphore;
    try {
      semaphore = this.get(key);
    } catch (error) {
      return Promise.reject(error);
    }
    const pending = semaphore.acquire(options);
    // Refused at once (closed, aborted signal, bad options): the key may be idle already.
    if (semaphore.inUse === 0 && semaphore.waiting === 0) this.retire(semaphore as KeySemaphore);
    return pending;
  }

  /** Like `Semaphore.tryAcquire`, for `key`. */
  tryAcquire(key: string, weight = 1): Permit | undefined {
    if (this.closed) return undefined;
    const semaphore = this.get(key);
    try {
      return semaphore.tryAcquire(weight);
    } finally {
      if (semaphore.inUse === 0 && semaphore.waiting === 0) this.retire(semaphore as KeySemaphore);
    }
  }

  onWait(listener: WaitListener): () => void {
    return this.waits.add(listener);
  }

  /** Closes every key's semaphore; later acquires reject with `LimiterClosedError`. */
  async close(reason?: unknown): Promise<void> {
    this.closed = true;
    await Promise.all([...this.semaphores.values()].map((s) => s.close(reason)));
  }

  /** @internal Drops an idle key, keeping its counts in the totals. */
  retire(semaphore: KeySemaphore): void {
    if (this.semaphores.get(semaphore.key) !== semaphore) return;
    this.semaphores.delete(semaphore.key);
    add(this.retired, semaphore.counters);
  }
}

function emptyCounters(): LimiterCounters {
  const rejected = {} as Record<RejectionReason, number>;
  for (const reason of reasons) rejected[reason] = 0;
  return { acquired: 0, released: 0, rejected };
}

function add(into: LimiterCounters, from: LimiterCounters): void {
  into.acquired += from.acquired;
  into.released += from.released;
  for (const reason of reasons) into.rejected[reason] += from.rejected[reason];
}
