import {
  type AcquireOptions,
  type Limiter,
  LimiterClosedError,
  type LimiterCounters,
  LimiterUnavailableError,
  QueueFullError,
  QueueTimeoutError,
  type WaitListener,
} from '@doorman/semaphore';
import { WaitListeners } from '@doorman/semaphore/internal';
import { Hub, type HubMember, type RedisClient } from './hub.js';
import { RedisPermit, type RedisPermitOwner } from './permit.js';
import {
  acquireScript,
  cancelScript,
  channelBaseOf,
  keysOf,
  releaseScript,
  renewScript,
} from './scripts.js';
import * as check from './validate.js';

export interface RedisSemaphoreOptions {
  /** The ioredis client (a `Redis` or a `Cluster`). Its subscriber connection is made with `duplicate()`. */
  redis: RedisClient;
  /** Names the shared limit: every process using the same `key` (and Redis) shares one `limit`. */
  key: string;
  /** Units that may be held at once across all those processes: an integer >= 1. Use the same value everywhere. */
  limit: number;
  /** A holder (or waiter) whose process stops renewing loses its place after this many ms. Default 10000. */
  leaseMs?: number;
  /** Most acquirers in the shared line (all processes together); beyond it `QUEUE_FULL`. Default: no bound. */
  maxQueue?: number;
  /** Longest wait in the line before `QUEUE_TIMEOUT`, in ms. Default: no timeout. */
  queueTimeoutMs?: number;
  /** With Redis unreachable, admit (with a permit Redis does not count) instead of rejecting `UNAVAILABLE`. Default false. */
  failOpen?: boolean;
  /** Shown in errors and used as the `limiter` label in metrics. Default: `key`. */
  name?: string;
  /** A command not answered within this many ms counts as Redis unreachable. Default 2000. */
  unavailableAfterMs?: number;
  /** Called (never thrown) when a held permit's lease is found lost. */
  onLeaseLost?: (permit: RedisPermit) => void;
}

const optionKeys: ReadonlySet<string> = new Set([
  'redis',
  'key',
  'limit',
  'leaseMs',
  'maxQueue',
  'queueTimeoutMs',
  'failOpen',
  'name',
  'unavailableAfterMs',
  'onLeaseLost',
]);
/** The counters of a RedisSemaphore: the core's, plus what only a distributed limiter has. */
export interface RedisLimiterCounters extends LimiterCounters {
  /** Permits whose lease ran out before release: Redis stopped counting them. */
  leasesLost: number;
  /** Permits granted without Redis, under `failOpen`, while it was unreachable. */
  failOpen: number;
}

const acquireKeys: ReadonlySet<string> = new Set(['weight', 'signal', 'timeoutMs', 'priority']);

/** The commands RedisSemaphore defines on the client. */
interface ScriptCommands {
  doormanSemAcquire4(...args: Array<string | number>): Promise<[number, number]>;
  doormanSemRelease4(...args: Array<string | number>): Promise<Array<number | string>>;
  doormanSemCancel4(...args: Array<string | number>): Promise<Array<number | string>>;
  doormanSemRenew4(...args: Array<string | number>): Promise<number[]>;
}

const now = () => performance.now();
const noop = () => {};

/** One acquire of this process that has not settled yet. */
class Waiter {
  timer: NodeJS.Timeout | undefined = undefined;
  /** Rejects the acquire as unavailable if Redis has not answered it in time. */
  deadline: NodeJS.Timeout | undefined = undefined;
  /** The acquire script was sent. */
  sent = false;
  /** Its answer came back: the waiter is in the Redis line (or was granted). */
  answered = false;
  /** The promise settled; every later event is ignored. */
  done = false;
  /** It gave up (or was admitted locally): what Redis did for it must be undone. */
  gaveUp = false;
  /** Local time until which its lease is known to hold. */
  confirmedUntil = 0;

  constructor(
    readonly owner: RedisSemaphore,
    readonly id: string,
    readonly weight: number,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number,
    readonly startedAt: number,
    readonly resolve: (permit: RedisPermit) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  /** The abort listener. */
  handleEvent(): void {
    if (!this.done) this.owner.abandon(this, 'aborted');
  }
}

function onWaiterTimeout(waiter: Waiter): void {
  if (!waiter.done) waiter.owner.abandon(waiter, 'timeout');
}

function onWaiterDeadline(waiter: Waiter): void {
  if (!waiter.done && !waiter.answered) {
    waiter.owner.abandon(waiter, 'unavailable', new Error('Redis did not answer in time'));
  }
}

/**
 * A counting semaphore whose `limit` is shared by every process that uses the
 * same `key` on the same Redis. The state lives in Redis and changes only
 * through atomic Lua scripts; the waiting line is FIFO across all processes,
 * and a release grants the head of the line inside Redis and wakes its
 * process through pub/sub. Holders and waiters hold leases that their process
 * renews; a process that dies loses its permits after `leaseMs`.
 *
 * `inUse`, `waiting` and the counters are this process's own: `sum()` them in
 * your metrics to see the whole cluster.
 */
export class RedisSemaphore implements Limiter, HubMember, RedisPermitOwner, AsyncDisposable {
  readonly name: string;
  readonly limit: number;
  /** The shared key in Redis (the hash tag of the Redis keys). */
  readonly key: string;
  readonly leaseMs: number;
  readonly failOpen: boolean;
  private readonly redis: RedisClient & ScriptCommands;
  private readonly maxQueue: number;
  private readonly queueTimeoutMs: number;
  private readonly unavailableAfterMs: number;
  private readonly onLeaseLost: ((permit: RedisPermit) => void) | undefined;
  private readonly keys: string[];
  private readonly channelBase: string;
  private readonly hub: Hub;
  private attached = false;
  private closed = false;

  /** This process's permits that Redis counts (not released, not lost). */
  private readonly holders = new Map<string, RedisPermit>();
  private readonly waiters = new Map<string, Waiter>();
  private held = 0;
  /** Release and cancel commands on their way. */
  private inflight = 0;
  private idleResolvers: Array<() => void> | undefined = undefined;
  private drainResolvers: Array<() => void> | undefined = undefined;
  private readonly waits: WaitListeners;

  private timer: NodeJS.Timeout | undefined = undefined;
  private timerDue = 0;
  private renewing = false;

  /** Admits this process's waiters that a release or cancel reply says were granted. */
  private readonly deliver = (reply: unknown) => this.hub.deliver(reply);

  private acquiredCount = 0;
  private releasedCount = 0;
  private rejectedQueueFull = 0;
  private rejectedTimeout = 0;
  private rejectedAborted = 0;
  private rejectedClosed = 0;
  private rejectedUnavailable = 0;
  private leasesLostCount = 0;
  private failOpenCount = 0;

  constructor(options: RedisSemaphoreOptions) {
    const o = check.plainObject('options', options);
    check.knownKeys('RedisSemaphore options', o, optionKeys);
    const redis = o['redis'] as RedisClient | undefined;
    if (
      typeof redis !== 'object' ||
      redis === null ||
      typeof (redis as { defineCommand?: unknown }).defineCommand !== 'function' ||
      typeof (redis as { duplicate?: unknown }).duplicate !== 'function'
    ) {
      throw new TypeError(
        `Expected \`redis\` to be an ioredis client (Redis or Cluster), got ${check.show(redis)}`,
      );
    }
    const key = check.nonEmptyString('key', o['key']);
    if (/[{}]/.test(key)) {
      throw new RangeError(
        `Expected \`key\` to be a non-empty string without \`{\` or \`}\`, got ${check.show(key)}`,
      );
    }
    this.key = key;
    this.limit = check.integerAtLeast('limit', o['limit'], 1);
    this.leaseMs =
      o['leaseMs'] === undefined ? 10_000 : check.finiteDuration('leaseMs', o['leaseMs'], 30);
    this.maxQueue =
      o['maxQueue'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.countOrInfinity('maxQueue', o['maxQueue'], 0);
    this.queueTimeoutMs =
      o['queueTimeoutMs'] === undefined
        ? Number.POSITIVE_INFINITY
        : check.duration('queueTimeoutMs', o['queueTimeoutMs']);
    this.failOpen = o['failOpen'] === undefined ? false : check.boolean('failOpen', o['failOpen']);
    this.name = o['name'] === undefined ? key : check.nonEmptyString('name', o['name']);
    this.waits = new WaitListeners(this.name);
    this.unavailableAfterMs =
      o['unavailableAfterMs'] === undefined
        ? 2_000
        : check.finiteDuration('unavailableAfterMs', o['unavailableAfterMs'], 1);
    this.onLeaseLost = check.optionalFunction('onLeaseLost', o['onLeaseLost']);

    this.redis = redis as RedisClient & ScriptCommands;
    defineCommands(this.redis);
    this.keys = keysOf(key);
    const prefix = (redis as { options?: { keyPrefix?: unknown } }).options?.keyPrefix;
    this.channelBase = (typeof prefix === 'string' ? prefix : '') + channelBaseOf(key);
    this.hub = Hub.of(redis);
  }

  /** Units held now by this process (lost and `failOpen` permits included, until released). */
  get inUse(): number {
    return this.held;
  }

  /** Acquires of this process not settled yet: in the Redis line, or on their way to it. */
  get waiting(): number {
    return this.waiters.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get counters(): RedisLimiterCounters {
    return {
      leasesLost: this.leasesLostCount,
      failOpen: this.failOpenCount,
      acquired: this.acquiredCount,
      released: this.releasedCount,
      rejected: {
        queue_full: this.rejectedQueueFull,
        timeout: this.rejectedTimeout,
        aborted: this.rejectedAborted,
        closed: this.rejectedClosed,
        unavailable: this.rejectedUnavailable,
      },
    };
  }

  /**
   * Takes `weight` units of the shared limit, waiting in the shared FIFO line
   * if they are not free. Rejects with `QueueFullError`, `QueueTimeoutError`,
   * `LimiterClosedError`, `LimiterUnavailableError` (Redis unreachable, unless
   * `failOpen`), or the signal's reason when it aborts.
   */
  acquire(options?: AcquireOptions): Promise<RedisPermit> {
    let weight = 1;
    let signal: AbortSignal | undefined;
    let timeoutMs = this.queueTimeoutMs;
    if (options !== undefined) {
      try {
        check.plainObject('acquire options', options);
        check.knownKeys('acquire options', options, acquireKeys);
        if (options.weight !== undefined) weight = this.checkWeight(options.weight);
        if (options.priority !== undefined && options.priority !== 0) {
          throw new TypeError(
            `RedisSemaphore serves its shared line in arrival order only: \`priority\` is not supported, got ${check.show(options.priority)}`,
          );
        }
        if (options.timeoutMs !== undefined)
          timeoutMs = check.duration('timeoutMs', options.timeoutMs);
        if (options.signal !== undefined) signal = check.signal('signal', options.signal);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (this.closed) {
      this.rejectedClosed++;
      return Promise.reject(new LimiterClosedError(this.name));
    }
    if (signal?.aborted) {
      this.rejectedAborted++;
      return Promise.reject(signal.reason);
    }
    if (!this.reachable()) {
      return this.unreachable(weight, new Error(`Redis connection is ${this.redis.status}`));
    }
    if (!this.attached) {
      this.attached = true;
      this.hub.attach(this.channelBase, this);
    }
    const id = this.hub.nextId(weight);
    return new Promise<RedisPermit>((resolve, reject) => {
      const waiter = new Waiter(this, id, weight, signal, timeoutMs, now(), resolve, reject);
      // Routed before anything is sent: a grant can be heard before the acquire's own answer.
      this.waiters.set(id, waiter);
      this.hub.route(id, this);
      if (signal !== undefined) signal.addEventListener('abort', waiter);
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        waiter.timer = setTimeout(onWaiterTimeout, timeoutMs, waiter);
      }
      waiter.deadline = setTimeout(onWaiterDeadline, this.unavailableAfterMs, waiter);
      const subscription = this.hub.subscription(this.channelBase);
      if (subscription.ready) this.send(waiter);
      else {
        subscription.promise.then(
          () => this.send(waiter),
          (error: unknown) => {
            if (!waiter.done) this.abandon(waiter, 'unavailable', error);
          },
        );
      }
    });
  }

  /** Acquires, runs `fn`, and releases in `finally`, whatever `fn` does. */
  async run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== 'function') {
      throw new TypeError(`Expected \`fn\` to be a function, got ${check.show(fn)}`);
    }
    const permit = await this.acquire(options);
    try {
      return await fn();
    } finally {
      permit.release();
    }
  }

  /**
   * Stops admitting: this process's waiters and every later `acquire` reject
   * with `LimiterClosedError`, and the waiters leave the Redis line. Held
   * permits stay valid (and renewed) until released; `idle()` tells when the
   * last is back. Resolves once the waiters' removal has been sent to Redis.
   */
  close(reason?: unknown): Promise<void> {
    if (this.closed) return this.idleOfCommands();
    this.closed = true;
    for (const waiter of [...this.waiters.values()]) {
      this.abandon(waiter, 'closed', reason);
    }
    this.checkIdle();
    return this.idleOfCommands();
  }

  /** Resolves once this process holds nothing, waits for nothing, and has no command on its way. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      if (this.idleResolvers === undefined) this.idleResolvers = [];
      this.idleResolvers.push(resolve);
    });
  }

  onWait(listener: WaitListener): () => void {
    return this.waits.add(listener);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal The hub heard a grant for one of this process's waiters. */
  granted(id: string): void {
    const waiter = this.waiters.get(id);
    if (waiter !== undefined && !waiter.done) this.admit(waiter, false);
  }

  /** @internal The subscriber reconnected: grants may have been missed, so check now. */
  resync(): void {
    if (this.waiters.size > 0) this.schedule(0);
  }

  /** @internal Called by a permit, once. */
  releasePermit(permit: RedisPermit): void {
    this.held -= permit.weight;
    this.releasedCount++;
    if (!permit.local && this.holders.delete(permit.id)) {
      // If this fails, the permit's lease (no longer renewed) frees it in Redis.
      this.command(
        this.redis.doormanSemRelease4(
          ...this.keys,
          this.channelBase,
          this.limit,
          this.leaseMs,
          permit.id,
        ),
      );
    }
    this.checkIdle();
  }

  /** @internal A waiter gives up: aborted, timed out, closed, or Redis did not answer. */
  abandon(
    waiter: Waiter,
    cause: 'aborted' | 'timeout' | 'closed' | 'unavailable',
    detail?: unknown,
  ): void {
    waiter.gaveUp = true;
    if (cause === 'unavailable' && this.failOpen) {
      this.finish(waiter);
      this.cleanUp(waiter);
      this.admitLocally(waiter.weight, waiter.resolve);
      return;
    }
    this.finish(waiter);
    switch (cause) {
      case 'aborted':
        this.rejectedAborted++;
        waiter.reject(waiter.signal?.reason);
        break;
      case 'timeout':
        this.rejectedTimeout++;
        waiter.reject(new QueueTimeoutError(this.name, waiter.timeoutMs));
        break;
      case 'closed':
        this.rejectedClosed++;
        waiter.reject(new LimiterClosedError(this.name, detail));
        break;
      case 'unavailable':
        this.rejectedUnavailable++;
        waiter.reject(new LimiterUnavailableError(this.name, detail));
        break;
    }
    this.cleanUp(waiter);
    this.checkIdle();
  }

  // ---- acquiring --------------------------------------------------------

  private send(waiter: Waiter): void {
    if (waiter.done) return; // gave up before it was sent: Redis never heard of it
    waiter.sent = true;
    const sentAt = now();
    this.redis
      .doormanSemAcquire4(
        ...this.keys,
        this.channelBase,
        this.limit,
        this.leaseMs,
        waiter.id,
        this.maxQueue === Number.POSITIVE_INFINITY ? -1 : this.maxQueue,
      )
      .then(
        (reply) => this.answered(waiter, reply, sentAt),
        (error: unknown) => {
          waiter.answered = true;
          if (!waiter.done) this.abandon(waiter, 'unavailable', error);
        },
      );
  }

  private answered(waiter: Waiter, reply: [number, number] | number, sentAt: number): void {
    waiter.answered = true;
    if (waiter.deadline !== undefined) {
      clearTimeout(waiter.deadline);
      waiter.deadline = undefined;
    }
    const status = Array.isArray(reply) ? reply[0] : reply;
    if (waiter.done) {
      // It gave up while the script was on its way: undo what the script did.
      if (waiter.gaveUp && status !== 2) this.cancelInRedis(waiter.id);
      return;
    }
    waiter.confirmedUntil = sentAt + this.leaseMs;
    if (status === 1) {
      this.admit(waiter, true);
    } else if (status === 2) {
      this.finish(waiter);
      this.rejectedQueueFull++;
      waiter.reject(new QueueFullError(this.name, this.maxQueue));
      this.hub.unroute(waiter.id);
      this.checkIdle();
    } else {
      // In the line. Come back when the earliest holder's lease runs out, in
      // case its process died, or at the renewal period, whichever is first.
      const next = Array.isArray(reply) ? reply[1] : -1;
      this.schedule(next >= 0 ? Math.min(next + 2, this.renewEvery()) : this.renewEvery());
    }
  }

  private admit(waiter: Waiter, immediate: boolean): void {
    this.finish(waiter);
    this.hub.unroute(waiter.id);
    const permit = new RedisPermit(
      this,
      waiter.id,
      waiter.weight,
      false,
      waiter.confirmedUntil || now() + this.leaseMs,
      this.name,
    );
    this.holders.set(waiter.id, permit);
    this.held += waiter.weight;
    this.acquiredCount++;
    if (this.waits.list !== undefined) this.waits.emit(immediate ? 0 : now() - waiter.startedAt);
    this.schedule(this.renewEvery());
    waiter.resolve(permit);
  }

  private admitLocally(weight: number, resolve: (permit: RedisPermit) => void): void {
    const permit = new RedisPermit(this, this.hub.nextId(weight), weight, true, 0, this.name);
    this.held += weight;
    this.acquiredCount++;
    this.failOpenCount++;
    if (this.waits.list !== undefined) this.waits.emit(0);
    resolve(permit);
  }

  private unreachable(weight: number, cause: unknown): Promise<RedisPermit> {
    if (this.failOpen) {
      return new Promise((resolve) => this.admitLocally(weight, resolve));
    }
    this.rejectedUnavailable++;
    return Promise.reject(new LimiterUnavailableError(this.name, cause));
  }

  /** Settles nothing; stops the waiter's timers and listener and takes it off the local books. */
  private finish(waiter: Waiter): void {
    waiter.done = true;
    if (waiter.timer !== undefined) {
      clearTimeout(waiter.timer);
      waiter.timer = undefined;
    }
    if (waiter.deadline !== undefined) {
      clearTimeout(waiter.deadline);
      waiter.deadline = undefined;
    }
    if (waiter.signal !== undefined) waiter.signal.removeEventListener('abort', waiter);
    this.waiters.delete(waiter.id);
  }

  /** After a waiter gave up: take it out of the Redis line (or give back a grant that raced). */
  private cleanUp(waiter: Waiter): void {
    this.hub.unroute(waiter.id);
    // Not yet answered: `answered` will cancel once the script's result is known.
    // Redis unreachable: the waiter's lease, no longer renewed, frees its place.
    if (waiter.sent && waiter.answered && this.reachable()) this.cancelInRedis(waiter.id);
  }

  private cancelInRedis(id: string): void {
    // If this fails, the waiter's lease (no longer renewed) frees its place.
    this.command(
      this.redis.doormanSemCancel4(...this.keys, this.channelBase, this.limit, this.leaseMs, id),
    );
  }

  // ---- leases -----------------------------------------------------------

  private renewEvery(): number {
    return Math.max(10, Math.floor(this.leaseMs / 3));
  }

  /** Makes sure a renewal runs within `delay` ms (one timer per semaphore). */
  private schedule(delay: number): void {
    const due = now() + delay;
    if (this.timer !== undefined) {
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => this.tick(), delay);
    this.timer.unref();
  }

  /**
   * Renews every lease of this process in one script call. A holder found gone
   * is flagged lost; a waiter found granted is admitted (a grant message that
   * never arrived); a waiter found gone lost its place and is rejected.
   */
  private tick(): void {
    this.timer = undefined;
    if (this.renewing) return;
    const ids: string[] = [];
    for (const id of this.holders.keys()) ids.push(id);
    for (const waiter of this.waiters.values()) if (waiter.answered) ids.push(waiter.id);
    if (ids.length === 0) {
      // Only waiters whose acquire is still on its way: check again soon.
      if (this.waiters.size > 0) this.schedule(this.renewEvery());
      return;
    }
    if (!this.reachable()) {
      this.renewalFailed();
      this.schedule(this.renewEvery());
      return;
    }
    this.renewing = true;
    const sentAt = now();
    withDeadline(
      this.redis.doormanSemRenew4(...this.keys, this.channelBase, this.limit, this.leaseMs, ...ids),
      this.unavailableAfterMs,
    ).then(
      (reply) => {
        this.renewing = false;
        this.renewed(ids, reply, sentAt);
      },
      () => {
        this.renewing = false;
        this.renewalFailed();
        this.reschedule(-1);
      },
    );
  }

  private renewed(ids: string[], reply: number[], sentAt: number): void {
    const until = sentAt + this.leaseMs;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const status = reply[i];
      const permit = this.holders.get(id);
      if (permit !== undefined) {
        if (status === 1) permit.confirmedUntil = until;
        else if (status === 0) this.lose(permit);
        continue;
      }
      const waiter = this.waiters.get(id);
      if (waiter === undefined || waiter.done) continue;
      if (status === 1) {
        waiter.confirmedUntil = until;
        this.admit(waiter, false);
      } else if (status === 2) {
        waiter.confirmedUntil = until;
      } else {
        this.abandon(waiter, 'unavailable', new Error('the waiter lost its place in the line'));
      }
    }
    this.reschedule(reply[ids.length] ?? -1);
  }

  /** Redis did not answer a renewal: whatever has gone unconfirmed for a whole lease is lost. */
  private renewalFailed(): void {
    const t = now();
    for (const permit of [...this.holders.values()]) {
      if (permit.confirmedUntil <= t) this.lose(permit);
    }
    for (const waiter of [...this.waiters.values()]) {
      if (waiter.answered && !waiter.done && waiter.confirmedUntil <= t) {
        this.abandon(waiter, 'unavailable', new Error('the waiter lost its place in the line'));
      }
    }
  }

  private reschedule(nextExpiryMs: number): void {
    if (this.holders.size === 0 && this.waiters.size === 0) return; // timer stops when idle
    let delay = this.renewEvery();
    if (this.waiters.size > 0 && nextExpiryMs >= 0) delay = Math.min(delay, nextExpiryMs + 2);
    this.schedule(delay);
  }

  private lose(permit: RedisPermit): void {
    this.holders.delete(permit.id);
    if (!permit.markLost()) return;
    this.leasesLostCount++;
    const hook = this.onLeaseLost;
    if (hook === undefined) return;
    try {
      hook(permit);
    } catch (error) {
      process.emitWarning(
        `onLeaseLost of limiter "${this.name}" threw: ${error instanceof Error ? error.message : String(error)}`,
        { code: 'DOORMAN_ON_LEASE_LOST' },
      );
    }
  }

  // ---- plumbing ---------------------------------------------------------

  private reachable(): boolean {
    const status = this.redis.status;
    return status !== 'reconnecting' && status !== 'close' && status !== 'end';
  }

  /** Runs a fire-and-forget command, counted for `idle()`; its failure is covered by leases. */
  private command(promise: Promise<unknown>): void {
    this.inflight++;
    promise.then(this.deliver, noop);
    const done = () => {
      this.inflight--;
      if (this.inflight === 0 && this.drainResolvers !== undefined) {
        const resolvers = this.drainResolvers;
        this.drainResolvers = undefined;
        for (const resolve of resolvers) resolve();
      }
      this.checkIdle();
    };
    withDeadline(promise, this.unavailableAfterMs).then(done, done);
  }

  private isIdle(): boolean {
    return this.held === 0 && this.waiters.size === 0 && this.inflight === 0;
  }

  private idleOfCommands(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      if (this.drainResolvers === undefined) this.drainResolvers = [];
      this.drainResolvers.push(resolve);
    });
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.closed && this.attached) {
      this.attached = false;
      this.hub.detach(this.channelBase, this);
    }
    const resolvers = this.idleResolvers;
    if (resolvers !== undefined) {
      this.idleResolvers = undefined;
      for (const resolve of resolvers) resolve();
    }
  }

  private checkWeight(weight: unknown): number {
    const message = `Expected \`weight\` to be an integer from 1 to limit (${this.limit}), got ${check.show(weight)}`;
    if (typeof weight !== 'number') throw new TypeError(message);
    if (!Number.isInteger(weight) || weight < 1 || weight > this.limit) {
      throw new RangeError(message);
    }
    return weight;
  }
}

function defineCommands(redis: RedisClient & Partial<ScriptCommands>): void {
  if (typeof redis.doormanSemAcquire4 === 'function') return;
  redis.defineCommand('doormanSemAcquire4', { numberOfKeys: 4, lua: acquireScript });
  redis.defineCommand('doormanSemRelease4', { numberOfKeys: 4, lua: releaseScript });
  redis.defineCommand('doormanSemCancel4', { numberOfKeys: 4, lua: cancelScript });
  redis.defineCommand('doormanSemRenew4', { numberOfKeys: 4, lua: renewScript });
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
