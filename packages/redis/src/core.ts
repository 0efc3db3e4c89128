// The working parts of a RedisSemaphore: its waiters and holders in this
// process, and what it does when Redis answers. RedisSemaphore is its public
// face; nothing here is exported from the package.
import {
  type AcquireOptions,
  LimiterClosedError,
  LimiterUnavailableError,
  QueueFullError,
  QueueTimeoutError,
} from '@doorman/semaphore';
import {
  AcquireRequest,
  acquireKeys,
  Counts,
  checkWeight,
  IdleWaiters,
  WaitListeners,
} from '@doorman/semaphore/internal';
import { Commands } from './commands.js';
import { Hub, type HubMember } from './hub.js';
import { type Holder, type LeaseHolder, Leases } from './leases.js';
import type { Settings } from './options.js';
import { markLost, newPermit, type PermitOwner, type RedisPermit } from './permit.js';
import { channelBaseOf, keysOf } from './scripts.js';
import { type GiveUpCause, onWaiterTimeout, Waiter, type WaiterOwner } from './waiter.js';

const now = () => performance.now();

/** A permit of this process that Redis counts. */
class HeldPermit implements Holder {
  constructor(
    readonly permit: RedisPermit,
    public confirmedUntil: number,
    /** Local hand-offs in a row this unit has made without going back to Redis. */
    readonly handOffs: number,
  ) {}
  get id(): string {
    return this.permit.id;
  }
  get weight(): number {
    return this.permit.weight;
  }
}

function onWaiterDeadline(waiter: Waiter): void {
  if (!waiter.done && !waiter.answered) {
    waiter.owner.abandon(waiter, 'unavailable', new Error('Redis did not answer in time'));
  }
}

export class SemaphoreCore implements LeaseHolder, WaiterOwner, PermitOwner, HubMember {
  readonly holders = new Map<string, HeldPermit>();
  readonly waiters = new Map<string, Waiter>();
  readonly waits: WaitListeners;
  held = 0;
  closed = false;
  readonly counts = new Counts();
  leasesLost = 0;
  failedOpen = 0;

  private readonly redis: Settings['redis'];
  private readonly channelBase: string;
  private readonly hub: Hub;
  private readonly commands: Commands;
  private readonly leases: Leases;
  private attached = false;
  private readonly idleWaiters = new IdleWaiters();
  private readonly request: AcquireRequest;

  constructor(readonly settings: Settings) {
    this.redis = settings.redis;
    this.waits = new WaitListeners(settings.name);
    const limit = settings.limit;
    this.request = new AcquireRequest({
      keys: acquireKeys,
      checkWeight: (weight) => checkWeight(weight, limit),
      priority: false,
      limiterKind: 'RedisSemaphore',
    });
    const prefix = (this.redis as { options?: { keyPrefix?: unknown } }).options?.keyPrefix;
    this.channelBase = (typeof prefix === 'string' ? prefix : '') + channelBaseOf(settings.key);
    this.hub = Hub.of(this.redis);
    this.commands = new Commands(
      this.redis,
      keysOf(settings.key),
      this.channelBase,
      settings.limit,
      settings.leaseMs,
      settings.unavailableAfterMs,
      (reply) => this.hub.deliver(reply),
      () => this.checkIdle(),
    );
    this.leases = new Leases(this, this.commands, settings.leaseMs);
  }

  acquire(options: AcquireOptions | undefined): Promise<RedisPermit> {
    const s = this.settings;
    const request = this.request;
    try {
      request.read(options, s.queueTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    const { weight, timeoutMs } = request;
    const signal = request.takeSignal();
    if (this.closed) {
      this.counts.closed++;
      return Promise.reject(new LimiterClosedError(s.name));
    }
    if (signal?.aborted) {
      this.counts.aborted++;
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
      waiter.deadline = setTimeout(onWaiterDeadline, s.unavailableAfterMs, waiter);
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

  close(reason: unknown): Promise<void> {
    if (this.closed) return this.commands.drained();
    this.closed = true;
    for (const waiter of [...this.waiters.values()]) this.abandon(waiter, 'closed', reason);
    this.checkIdle();
    return this.commands.drained();
  }

  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return this.idleWaiters.wait();
  }

  /** The hub heard a grant for one of this process's waiters. */
  granted(id: string): void {
    const waiter = this.waiters.get(id);
    if (waiter !== undefined && !waiter.done) this.admit(waiter, false);
  }

  /** The subscriber reconnected: grants may have been missed, so check now. */
  resync(): void {
    if (this.waiters.size > 0) this.leases.schedule(0);
  }

  /** A permit is given back (once). */
  releasePermit(permit: RedisPermit): void {
    this.held -= permit.weight;
    this.counts.released++;
    const holder = permit.local ? undefined : this.holders.get(permit.id);
    if (holder !== undefined && holder.permit === permit) {
      this.holders.delete(permit.id);
      if (!this.handOff(holder)) this.commands.release(permit.id);
    }
    this.checkIdle();
  }

  /** A waiter gives up: aborted, timed out, closed, or Redis did not answer. */
  abandon(waiter: Waiter, cause: GiveUpCause, detail?: unknown): void {
    waiter.gaveUp = true;
    this.finish(waiter);
    if (cause === 'unavailable' && this.settings.failOpen) {
      this.cleanUp(waiter);
      this.admitLocally(waiter.weight, waiter.resolve);
      return;
    }
    const name = this.settings.name;
    this.counts.count(cause);
    if (cause === 'aborted') waiter.reject(waiter.signal?.reason);
    else if (cause === 'timeout') waiter.reject(new QueueTimeoutError(name, waiter.timeoutMs));
    else if (cause === 'closed') waiter.reject(new LimiterClosedError(name, detail));
    else waiter.reject(new LimiterUnavailableError(name, detail));
    this.cleanUp(waiter);
    this.checkIdle();
  }

  lostPlace(waiter: Waiter): void {
    this.abandon(waiter, 'unavailable', new Error('the waiter lost its place in the line'));
  }

  lose(holder: Holder): void {
    this.holders.delete(holder.id);
    const { permit } = holder as HeldPermit;
    if (!markLost(permit)) return;
    this.leasesLost++;
    const hook = this.settings.onLeaseLost;
    if (hook === undefined) return;
    try {
      hook(permit);
    } catch (error) {
      process.emitWarning(
        `onLeaseLost of limiter "${this.settings.name}" threw: ${error instanceof Error ? error.message : String(error)}`,
        { code: 'DOORMAN_ON_LEASE_LOST' },
      );
    }
  }

  reachable(): boolean {
    const status = this.redis.status;
    return status !== 'reconnecting' && status !== 'close' && status !== 'end';
  }

  admit(waiter: Waiter, immediate: boolean): void {
    this.finish(waiter);
    this.hub.unroute(waiter.id);
    const permit = newPermit(this, waiter.id, waiter.weight, false, this.settings.name);
    const until = waiter.confirmedUntil || now() + this.settings.leaseMs;
    this.holders.set(waiter.id, new HeldPermit(permit, until, 0));
    this.welcome(permit, immediate ? 0 : now() - waiter.startedAt, waiter.resolve);
  }

  // ---- acquiring --------------------------------------------------------

  private send(waiter: Waiter): void {
    if (waiter.done) return; // gave up before it was sent: Redis never heard of it
    waiter.sent = true;
    const sentAt = now();
    this.commands.acquire(waiter.id, this.settings.maxQueue).then(
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
      if (waiter.gaveUp && status !== 2) this.commands.cancel(waiter.id);
      return;
    }
    waiter.confirmedUntil = sentAt + this.settings.leaseMs;
    if (status === 1) {
      this.admit(waiter, true);
    } else if (status === 2) {
      this.finish(waiter);
      this.counts.queueFull++;
      waiter.reject(new QueueFullError(this.settings.name, this.settings.maxQueue));
      this.hub.unroute(waiter.id);
      this.checkIdle();
    } else {
      // In the line: come back when the earliest holder's lease runs out, in
      // case its process died, or at the renewal period, whichever is first.
      this.leases.scheduleAfterQueued(Array.isArray(reply) ? reply[1] : -1);
    }
  }

  /**
   * With `localHandOff`, gives a released holder's units straight to this
   * process's longest waiter of the same weight, keeping the holder's id in
   * Redis (so Redis is not asked), unless the units have already been passed
   * on that many times in a row. True if handed off.
   */
  private handOff(holder: HeldPermit): boolean {
    if (holder.handOffs >= this.settings.localHandOff || this.closed) return false;
    let next: Waiter | undefined;
    for (const waiter of this.waiters.values()) {
      if (waiter.weight === holder.weight && !waiter.done) {
        next = waiter;
        break;
      }
    }
    if (next === undefined) return false;
    next.gaveUp = true; // its own place in Redis is no longer needed
    this.finish(next);
    this.cleanUp(next);
    const permit = newPermit(this, holder.id, holder.weight, false, this.settings.name);
    this.holders.set(holder.id, new HeldPermit(permit, holder.confirmedUntil, holder.handOffs + 1));
    this.welcome(permit, now() - next.startedAt, next.resolve);
    return true;
  }

  private welcome(permit: RedisPermit, waitedMs: number, resolve: (p: RedisPermit) => void): void {
    this.held += permit.weight;
    this.counts.acquired++;
    if (this.waits.list !== undefined) this.waits.emit(waitedMs);
    this.leases.schedule(this.leases.renewEvery);
    resolve(permit);
  }

  private admitLocally(weight: number, resolve: (permit: RedisPermit) => void): void {
    const permit = newPermit(this, this.hub.nextId(weight), weight, true, this.settings.name);
    this.held += weight;
    this.counts.acquired++;
    this.failedOpen++;
    if (this.waits.list !== undefined) this.waits.emit(0);
    resolve(permit);
  }

  private unreachable(weight: number, cause: unknown): Promise<RedisPermit> {
    if (this.settings.failOpen) {
      return new Promise((resolve) => this.admitLocally(weight, resolve));
    }
    this.counts.unavailable++;
    return Promise.reject(new LimiterUnavailableError(this.settings.name, cause));
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
    if (waiter.sent && waiter.answered && this.reachable()) this.commands.cancel(waiter.id);
  }

  // ---- idleness ---------------------------------------------------------

  private isIdle(): boolean {
    return this.held === 0 && this.waiters.size === 0 && !this.commands.busy;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    this.leases.stop();
    if (this.closed && this.attached) {
      this.attached = false;
      this.hub.detach(this.channelBase, this);
    }
    this.idleWaiters.wake();
  }
}
