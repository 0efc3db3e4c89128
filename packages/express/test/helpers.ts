import http, { type ClientRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import express4 from 'express4';
import { afterEach, expect, vi } from 'vitest';
import { type Deferred, deferred, Stage } from '../../../test/kit/index.js';

export { type Deferred, deferred };

export type ExpressFactory = typeof express;

/** Every behaviour test runs once per supported Express major. */
export const versions: Array<[string, ExpressFactory, 4 | 5]> = [
  ['express 5', express, 5],
  ['express 4', express4, 4],
];

/**
 * Opens servers on an ephemeral port and closes them (and every connection
 * still open) after each test. Call it inside a `describe`.
 */
export function useServers(): (app: Express) => Promise<number> {
  const servers = new Set<Server>();
  afterEach(async () => {
    const closing = [...servers].map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    servers.clear();
    await Promise.all(closing);
  });
  return (app) =>
    new Promise<number>((resolve, reject) => {
      const server = http.createServer(app);
      servers.add(server);
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  agent?: http.Agent | false;
}

export interface OpenRequest {
  /** The client side of the request: `destroy()` it to walk away. */
  req: ClientRequest;
  /** The reply, or the client-side error once the request is destroyed. */
  reply: Promise<Reply>;
  /** Resolves when the response headers have arrived. */
  responded: Promise<http.IncomingMessage>;
  /** The body chunks received so far, in order. */
  chunks: string[];
  /** Resolves once `n` body chunks have arrived in total. */
  whenChunks(n: number): Promise<void>;
}

/** Sends a request and keeps a handle on it; no keep-alive unless an agent is given. */
export function open(port: number, path: string, options: RequestOptions = {}): OpenRequest {
  const responded = deferred<http.IncomingMessage>();
  const reply = deferred<Reply>();
  const chunks: string[] = [];
  let chunkWaiters: Array<{ n: number; done: Deferred<void> }> = [];
  const req = http.request({
    host: '127.0.0.1',
    port,
    path,
    method: options.method ?? 'GET',
    headers: options.headers,
    agent: options.agent ?? false,
  });
  req.on('error', (error) => {
    responded.reject(error);
    reply.reject(error);
  });
  req.on('response', (res) => {
    responded.resolve(res);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      chunks.push(chunk);
      const ready = chunkWaiters.filter((w) => chunks.length >= w.n);
      chunkWaiters = chunkWaiters.filter((w) => chunks.length < w.n);
      for (const waiter of ready) waiter.done.resolve();
    });
    res.on('end', () =>
      reply.resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.join('') }),
    );
    res.on('error', (error) => reply.reject(error));
  });
  req.end();
  // A destroyed request rejects these; the tests that destroy do not read them.
  responded.promise.catch(() => {});
  reply.promise.catch(() => {});
  return {
    req,
    reply: reply.promise,
    responded: responded.promise,
    chunks,
    whenChunks(n) {
      if (chunks.length >= n) return Promise.resolve();
      const done = deferred();
      chunkWaiters.push({ n, done });
      return done.promise;
    },
  };
}

/** Sends a request and resolves with its reply. */
export function get(port: number, path: string, options: RequestOptions = {}): Promise<Reply> {
  return open(port, path, options).reply;
}

/** Waits (polling, never sleeping a fixed time) until `check` stops throwing. */
export function until(check: () => void): Promise<void> {
  return vi.waitFor(check, { interval: 2, timeout: 5000 });
}

/** The numbers of a limiter the tests look at. */
interface Numbers {
  inUse: number;
  waiting: number;
}

/** Waits until `n` requests are queued in the limiter. */
export function queued(limiter: Numbers, n: number): Promise<void> {
  return until(() => expect(limiter.waiting).toBe(n));
}

/**
 * A karaoke room: a handler that records that it started, then holds the
 * request open until the test lets it finish (the kit's `Stage`, labelled by
 * the `x-id` header). It counts how many run at once.
 */
export class Room {
  private readonly stage = new Stage();

  /** Handlers running now. */
  get running(): number {
    return this.stage.active;
  }
  /** Most handlers that ever ran at once. */
  get peak(): number {
    return this.stage.maxActive;
  }
  /** Labels (the `x-id` header) of the requests whose handler started, in order. */
  get started(): readonly string[] {
    return this.stage.labels;
  }

  /** The handler. It answers 200 with the label once the test releases it. */
  readonly handler: RequestHandler = async (req, res) => {
    await this.stage.enter(req.get('x-id') ?? '');
    if (!res.writableEnded && !res.destroyed) res.send(`sang ${req.get('x-id') ?? ''}`);
  };

  /** Middleware that holds the request, then hands it on with `next()`. */
  readonly hold: RequestHandler = async (req, _res, next) => {
    await this.stage.enter(req.get('x-id') ?? '');
    next();
  };

  /** Resolves once `n` handlers have started in total. */
  whenStarted(n: number): Promise<void> {
    return this.stage.reached(n);
  }

  /** Lets the oldest held handler finish. */
  releaseNext(): void {
    if (this.stage.held === 0) throw new Error('no held handler to release');
    this.stage.openNext();
  }

  /** Lets every handler held now finish. */
  releaseAll(): void {
    this.stage.openHeld();
  }
}

/** An error handler that answers `err.status` (or 500) and records what it saw. */
export function errorRecorder(): { errors: unknown[]; handler: ErrorRequestHandler } {
  const errors: unknown[] = [];
  const handler: ErrorRequestHandler = (err, _req, res, _next) => {
    errors.push(err);
    const status = typeof err?.status === 'number' ? err.status : 500;
    res.status(status).send(`error: ${err instanceof Error ? err.message : String(err)}`);
  };
  return { errors, handler };
}
