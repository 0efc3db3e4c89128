import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** The ioredis clients RedisSemaphore accepts: a `Redis` or a `Cluster`. */
export type RedisClient = Redis | Cluster;

/** What the hub calls on a semaphore that uses it. */
export interface HubMember {
  /** A grant message named this id; it is this member's waiter. */
  granted(id: string): void;
  /** The subscriber (re)connected: messages may have been missed, check the line. */
  resync(): void;
}

export interface Subscription {
  /** True once the subscriber is listening on the channel. */
  ready: boolean;
  /** Settles when it is (or rejects when the subscribe failed). */
  promise: Promise<void>;
}

interface Channel {
  members: Set<HubMember>;
  subscription: Subscription | undefined;
}

const hubs = new WeakMap<object, Hub>();

/**
 * One per ioredis client per process: a single subscriber connection (a
 * `duplicate()` of the client) that every RedisSemaphore on that client
 * shares. Grant messages name waiter ids; the hub routes each to the
 * semaphore whose waiter it is. The subscriber is made on first use and
 * closed when the last semaphore lets go of it or the client itself ends.
 */
export class Hub {
  /** Names this process's connection in waiter ids and grant channels. */
  readonly instance = randomBytes(6).toString('hex');
  private sequence = 0;
  private subscriber: RedisClient | undefined;
  private readonly channels = new Map<string, Channel>();
  private readonly waiters = new Map<string, HubMember>();
  private readonly onEnd = () => this.shutdown();

  static of(client: RedisClient): Hub {
    let hub = hubs.get(client);
    if (hub === undefined) {
      hub = new Hub(client);
      hubs.set(client, hub);
    }
    return hub;
  }

  private constructor(private readonly client: RedisClient) {}

  /** A new id for a permit of `weight` units, unique across every process sharing the Redis. */
  nextId(weight: number): string {
    this.sequence++;
    return `${this.instance}:${weight}:${this.sequence.toString(36)}`;
  }

  /** Routes grant messages for `id` to `member` until `unroute(id)`. */
  route(id: string, member: HubMember): void {
    this.waiters.set(id, member);
  }

  unroute(id: string): void {
    this.waiters.delete(id);
  }

  /**
   * A script's reply listed these granted ids (after the first element, the
   * script's own status): admit the ones waiting in this process now, without
   * waiting for their message.
   */
  deliver(reply: unknown): void {
    if (!Array.isArray(reply)) return;
    for (let i = 1; i < reply.length; i++) {
      const id = reply[i];
      if (typeof id === 'string') this.waiters.get(id)?.granted(id);
    }
  }

  /** Registers `member` as a listener on the grant channel `base + instance`. */
  attach(base: string, member: HubMember): void {
    const name = base + this.instance;
    let channel = this.channels.get(name);
    if (channel === undefined) {
      channel = { members: new Set(), subscription: undefined };
      this.channels.set(name, channel);
    }
    channel.members.add(member);
  }

  /**
   * The subscription to the grant channel `base + instance`, made now if there
   * is none (first use, after a failed subscribe, after the client ended).
   * A waiter must not enter the line before it is `ready`, or its grant
   * message could go unheard.
   */
  subscription(base: string): Subscription {
    const name = base + this.instance;
    const channel = this.channels.get(name);
    if (channel === undefined) throw new Error(`not attached to ${name}`);
    if (channel.subscription !== undefined) return channel.subscription;
    const subscriber = this.ensureSubscriber();
    const subscription: Subscription = {
      ready: false,
      promise: subscriber.subscribe(name).then(() => {
        subscription.ready = true;
      }),
    };
    subscription.promise.catch(() => {
      if (channel.subscription === subscription) channel.subscription = undefined;
    });
    channel.subscription = subscription;
    return subscription;
  }

  /** Undoes `attach`; the last member out unsubscribes, and the connection closes when no channel is left. */
  detach(base: string, member: HubMember): void {
    const name = base + this.instance;
    const channel = this.channels.get(name);
    if (channel === undefined || !channel.members.delete(member)) return;
    if (channel.members.size > 0) return;
    this.channels.delete(name);
    if (channel.subscription !== undefined) this.subscriber?.unsubscribe(name).catch(() => {});
    if (this.channels.size === 0) this.closeSubscriber();
  }

  private ensureSubscriber(): RedisClient {
    if (this.subscriber !== undefined) return this.subscriber;
    // Called through one signature: ioredis 6 makes `duplicate` generic on
    // Redis and Cluster alike, and TypeScript cannot call their union.
    const subscriber = (this.client as { duplicate(): RedisClient }).duplicate();
    subscriber.on('error', () => {
      // Reconnects are ioredis's job; failures reach callers through the main client.
    });
    subscriber.on('message', (_channel: string, message: string) => {
      for (const id of message.split(' ')) this.waiters.get(id)?.granted(id);
    });
    let connectedOnce = false;
    subscriber.on('ready', () => {
      // After a reconnect ioredis subscribes again by itself, but grants
      // published in the gap are gone: have every member check the line.
      if (connectedOnce) {
        for (const channel of this.channels.values()) {
          for (const member of channel.members) member.resync();
        }
      }
      connectedOnce = true;
    });
    this.client.once('end', this.onEnd);
    this.subscriber = subscriber;
    return subscriber;
  }

  private closeSubscriber(): void {
    const subscriber = this.subscriber;
    if (subscriber === undefined) return;
    this.subscriber = undefined;
    this.client.off('end', this.onEnd);
    subscriber.disconnect();
  }

  /** The client ended (quit or disconnect): drop the subscriber too; a later use makes a new one. */
  private shutdown(): void {
    for (const channel of this.channels.values()) channel.subscription = undefined;
    this.closeSubscriber();
  }
}
