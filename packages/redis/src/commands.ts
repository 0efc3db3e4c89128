// The four scripts as commands on the ioredis client, with the arguments
// every call shares, and the bookkeeping of fire-and-forget commands.
import { createHash } from 'node:crypto';
import type { RedisClient } from './hub.js';
import { acquireScript, cancelScript, releaseScript, renewScript } from './scripts.js';

type Args = Array<string | number>;

/** Per client, the scripts sent in full since it (re)connected. */
const loadedByClient = new WeakMap<RedisClient, Set<string>>();

function loadedOf(redis: RedisClient): Set<string> {
  let loaded = loadedByClient.get(redis);
  if (loaded === undefined) {
    const fresh = new Set<string>();
    loaded = fresh;
    loadedByClient.set(redis, fresh);
    // A new connection may reach a Redis that never saw the scripts.
    redis.on('ready', () => fresh.clear());
  }
  return loaded;
}

/**
 * One script: sent in full (EVAL) the first time on a client, as EVALSHA
 * after, and in full again if Redis answers NOSCRIPT (it restarted, or a
 * Cluster node never saw it). Not ioredis's defineCommand: under
 * enableAutoPipelining its commands lose track of the connection and send the
 * whole body every time.
 */
class Script {
  private readonly sha: string;
  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
  run<T>(redis: RedisClient, args: Args): Promise<T> {
    const loaded = loadedOf(redis);
    if (!loaded.has(this.sha)) {
      loaded.add(this.sha);
      return redis.eval(this.lua, 4, ...args) as Promise<T>;
    }
    return (redis.evalsha(this.sha, 4, ...args) as Promise<T>).catch((error: unknown) => {
      if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
      return redis.eval(this.lua, 4, ...args) as Promise<T>;
    });
  }
}

const scripts = {
  acquire: new Script(acquireScript),
  release: new Script(releaseScript),
  cancel: new Script(cancelScript),
  renew: new Script(renewScript),
};

const noop = () => {};

export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
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

export class Commands {
  private readonly redis: RedisClient;
  /** KEYS[1..4], then ARGV[1] channel base, ARGV[2] limit, ARGV[3] leaseMs. */
  private readonly head: ReadonlyArray<string | number>;
  /** Release and cancel commands on their way. */
  private inflight = 0;
  private drainResolvers: Array<() => void> | undefined = undefined;
  /** Ids released in this turn of the event loop, sent together in one script call. */
  private releases: string[] = [];
  private releaseScheduled = false;
  private readonly flushReleases = () => {
    this.releaseScheduled = false;
    this.sendReleases();
    this.settled();
  };

  constructor(
    redis: RedisClient,
    keys: readonly string[],
    channelBase: string,
    limit: number,
    leaseMs: number,
    private readonly unavailableAfterMs: number,
    /** Handles a release or cancel reply (the ids it granted). */
    private readonly deliver: (reply: unknown) => void,
    /** Called whenever a fire-and-forget command has settled. */
    private readonly settled: () => void,
  ) {
    this.redis = redis;
    this.head = [...keys, channelBase, limit, leaseMs];
  }

  get busy(): boolean {
    return this.inflight > 0 || this.releases.length > 0;
  }

  acquire(id: string, maxQueue: number): Promise<[number, number] | number> {
    this.sendReleases(); // what this process gave back first: Redis sees them in order
    return scripts.acquire.run(this.redis, [
      ...this.head,
      id,
      maxQueue === Number.POSITIVE_INFINITY ? -1 : maxQueue,
    ]);
  }

  renew(ids: readonly string[]): Promise<number[]> {
    this.sendReleases();
    return withDeadline(
      scripts.renew.run<number[]>(this.redis, [...this.head, ...ids]),
      this.unavailableAfterMs,
    );
  }

  /**
   * Gives a holder back. Releases of one turn of the event loop (holders
   * whose timers fired together, say) go in one script call, sent once the
   * turn's callbacks have run. If it fails, the lease frees it in Redis.
   */
  release(id: string): void {
    this.releases.push(id);
    if (this.releaseScheduled) return;
    this.releaseScheduled = true;
    setImmediate(this.flushReleases);
  }

  /** Takes a waiter out of the line. If it fails, the waiter's lease frees its place. */
  cancel(id: string): void {
    this.sendReleases();
    this.track(scripts.cancel.run(this.redis, [...this.head, id]));
  }

  /** Resolves once no release or cancel is on its way. */
  drained(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise<void>((resolve) => {
      if (this.drainResolvers === undefined) this.drainResolvers = [];
      this.drainResolvers.push(resolve);
    });
  }

  private sendReleases(): void {
    if (this.releases.length === 0) return;
    const ids = this.releases;
    this.releases = [];
    this.track(scripts.release.run(this.redis, [...this.head, ...ids]));
  }

  /** Runs a fire-and-forget command, counted for `drained()`; its failure is covered by leases. */
  private track(promise: Promise<unknown>): void {
    this.inflight++;
    promise.then(this.deliver, noop);
    const done = () => {
      this.inflight--;
      if (!this.busy && this.drainResolvers !== undefined) {
        const resolvers = this.drainResolvers;
        this.drainResolvers = undefined;
        for (const resolve of resolvers) resolve();
      }
      this.settled();
    };
    withDeadline(promise, this.unavailableAfterMs).then(done, done);
  }
}
