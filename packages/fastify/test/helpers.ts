import type http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import type { LimiterCounters } from '@doorman/semaphore';
import fastify, { type FastifyInstance } from 'fastify';
import fastify4 from 'fastify4';
import { afterEach, expect, vi } from 'vitest';
import {
  type CallOptions,
  call,
  type Deferred,
  deferred,
  type Reply,
} from '../../../test/kit/index.js';

export {
  type Deferred,
  deferred,
  get,
  RecordingLimiter,
  type Reply,
} from '../../../test/kit/index.js';

export type FastifyFactory = typeof fastify;

/** Every behaviour test runs once per supported Fastify major (Fastify 4 typed as 5 here). */
export const versions: Array<[string, FastifyFactory]> = [
  ['fastify 5', fastify],
  ['fastify 4', fastify4 as unknown as FastifyFactory],
];

/**
 * Listens with apps on an ephemeral port and closes them (and every
 * connection still open) after each test. Call it inside a `describe`.
 */
export function useApps(): (app: FastifyInstance) => Promise<number> {
  const apps = new Set<FastifyInstance>();
  afterEach(async () => {
    const closing = [...apps].map(async (app) => {
      app.server.closeAllConnections();
      await app.close();
    });
    apps.clear();
    await Promise.all(closing);
  });
  return async (app) => {
    apps.add(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return (app.server.address() as net.AddressInfo).port;
  };
}

export interface OpenRequest {
  /** The client side: `destroy()` it to walk away. */
  req: http.ClientRequest;
  /** The reply (rejects once the request is destroyed). */
  reply: Promise<Reply>;
  /** Resolves once the first body chunk has arrived. */
  firstChunk: Promise<void>;
}

/** Sends a request on its own connection and keeps a handle on it. */
export function open(port: number, path: string, options: CallOptions = {}): OpenRequest {
  const c = call(port, path, options);
  return { req: c.req, reply: c.reply, firstChunk: c.whenChunks(1) };
}

/** Writes raw bytes on a fresh connection (for pipelining); the socket is the test's to destroy. */
export async function rawSocket(port: number, data: string): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(data);
  return socket;
}

/** Waits (polling, never sleeping a fixed time) until `check` stops throwing. */
export function until(check: () => void): Promise<void> {
  return vi.waitFor(check, { interval: 2, timeout: 5000 });
}

/** Asserts that nothing is held nor waiting, and every permit acquired came back. */
export async function settled(limiter: {
  inUse: number;
  waiting: number;
  counters: LimiterCounters;
}): Promise<void> {
  await until(() => {
    expect(limiter.inUse).toBe(0);
    expect(limiter.waiting).toBe(0);
    expect(limiter.counters.released).toBe(limiter.counters.acquired);
  });
}

/**
 * Handlers the test lets finish one by one: each records its label (`x-id`),
 * waits for its turn, then answers. Counts how many run at once.
 */
export class Room {
  running = 0;
  peak = 0;
  readonly started: string[] = [];
  private readonly turns: Array<Deferred<void>> = [];
  private released = 0;
  private waiters: Array<{ n: number; done: Deferred<void> }> = [];

  /** A route handler: answers `sang <id>` once released. */
  readonly handler = async (request: { headers: IncomingHttpHeaders }): Promise<string> => {
    await this.enter(String(request.headers['x-id'] ?? ''));
    this.running--;
    return `sang ${String(request.headers['x-id'] ?? '')}`;
  };

  /** Resolves once `n` handlers have started in total. */
  whenStarted(n: number): Promise<void> {
    if (this.started.length >= n) return Promise.resolve();
    const done = deferred();
    this.waiters.push({ n, done });
    return done.promise;
  }

  releaseNext(): void {
    const turn = this.turns[this.released];
    if (turn === undefined) throw new Error('no held handler to release');
    this.released++;
    turn.resolve();
  }

  releaseAll(): void {
    while (this.released < this.turns.length) this.releaseNext();
  }

  enter(label: string): Promise<void> {
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    this.started.push(label);
    const turn = deferred();
    this.turns.push(turn);
    const ready = this.waiters.filter((w) => this.started.length >= w.n);
    this.waiters = this.waiters.filter((w) => this.started.length < w.n);
    for (const waiter of ready) waiter.done.resolve();
    return turn.promise;
  }
}
