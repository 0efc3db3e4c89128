import http, { type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  AcquireOptions,
  Limiter,
  LimiterCounters,
  Permit,
  Semaphore,
  WaitListener,
} from '@doorman/semaphore';
import Koa from 'koa';
import Koa2 from 'koa2';
import { onTestFinished } from 'vitest';

export type KoaClass = typeof Koa;

/** Every behaviour test runs once per Koa major. */
export const koaVersions: Array<[string, KoaClass]> = [
  ['Koa 2', Koa2],
  ['Koa 3', Koa],
];

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Handlers held open by the test. A handler calls `enter()` and stays inside
 * until the test opens its gate (`open`, `openAll`) or fails it (`fail`);
 * `reached(n)` resolves once n handlers have entered. No sleeps anywhere.
 */
export class Stage {
  private readonly gates: Array<Deferred<void>> = [];
  private readonly watchers: Array<{ count: number; done: Deferred<void> }> = [];
  private openLater = false;
  /** Handlers inside now. */
  active = 0;
  /** Most handlers inside at once. */
  maxActive = 0;

  /** How many handlers have entered so far. */
  get entered(): number {
    return this.gates.length;
  }

  /** Called by a handler: returns when the test opens this handler's gate. */
  async enter(): Promise<void> {
    const gate = deferred();
    this.gates.push(gate);
    if (this.openLater) gate.resolve();
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    for (const watcher of this.watchers) {
      if (this.gates.length >= watcher.count) watcher.done.resolve();
    }
    try {
      await gate.promise;
    } finally {
      this.active--;
    }
  }

  /** Resolves once `count` handlers have entered (in total). */
  reached(count: number): Promise<void> {
    if (this.gates.length >= count) return Promise.resolve();
    const done = deferred();
    this.watchers.push({ count, done });
    return done.promise;
  }

  /** Lets the `index`-th handler (0-based, in order of entry) finish. */
  open(index: number): void {
    this.gate(index).resolve();
  }

  /** Makes the `index`-th handler reject with `error`. */
  fail(index: number, error: unknown): void {
    this.gate(index).reject(error);
  }

  /** Opens every gate, and every later one at once. */
  openAll(): void {
    this.openLater = true;
    for (const gate of this.gates) gate.resolve();
  }

  private gate(index: number): Deferred<void> {
    const gate = this.gates[index];
    if (gate === undefined) throw new Error(`handler ${index} has not entered`);
    return gate;
  }
}

/** A fresh app whose errors are collected (and so not logged). */
export function newApp(KoaApp: KoaClass): { app: Koa; errors: unknown[] } {
  const app = new KoaApp();
  const errors: unknown[] = [];
  app.on('error', (error: unknown) => {
    errors.push(error);
  });
  return { app, errors };
}

export interface Served {
  port: number;
  server: Server;
}

/** Listens on an ephemeral port; the server and its connections close when the test ends. */
export async function serve(app: Koa): Promise<Served> {
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Call {
  /** The whole response. Rejects if the connection fails (or was aborted). */
  reply: Promise<Reply>;
  /** The response head, before the body has ended. */
  head: Promise<IncomingMessage>;
  /** The reply, or `'aborted'` once `abort()` has been called and no reply came. */
  outcome: Promise<Reply | 'aborted'>;
  /** Destroys the socket: the client goes away. */
  abort(): void;
}

/** One GET on its own connection (no agent, no keep-alive). */
export function get(port: number, path = '/', headers: Record<string, string> = {}): Call {
  let aborted = false;
  const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers, agent: false });
  const head = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  const reply = head.then(
    (res) =>
      new Promise<Reply>((resolve, reject) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
      }),
  );
  const outcome = reply.then<Reply | 'aborted', 'aborted'>(
    (r) => r,
    (error: unknown) => {
      if (aborted) return 'aborted';
      throw error;
    },
  );
  // Aborted calls reject by design; the test reads `outcome` for those.
  head.catch(() => {});
  reply.catch(() => {});
  outcome.catch(() => {});
  req.end();
  return {
    reply,
    head,
    outcome,
    abort() {
      aborted = true;
      req.destroy();
    },
  };
}

/**
 * Waits, one event-loop turn at a time, until `predicate` holds: for effects
 * the server applies when a socket event arrives. No timer, no sleep; it gives
 * up (failing the test) after a bounded number of turns.
 */
export async function until(
  predicate: () => boolean,
  what: string,
  turns = 200_000,
): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (predicate()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting until ${what}`);
}

/**
 * A Koa middleware for the top of the stack: it tells when each request's
 * response has closed on the server side (the client left, or the response
 * ended), keyed by the `x-id` header.
 */
export class CloseProbe {
  readonly closed = new Set<string>();
  readonly settled = new Set<string>();

  readonly middleware = async (ctx: Koa.Context, next: Koa.Next): Promise<void> => {
    const id = ctx.get('x-id');
    ctx.res.once('close', () => this.closed.add(id));
    try {
      await next();
    } finally {
      this.settled.add(id);
    }
  };
}

/**
 * A real `Semaphore` behind a `Limiter` of its own shape that counts the
 * `release()` calls of each permit it hands out, so a test can tell a permit
 * released twice (harmless to the semaphore, but a bug in the adapter) from
 * one released once.
 */
export class CountingLimiter implements Limiter {
  readonly releases: number[] = [];

  constructor(readonly inner: Semaphore) {}

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
    return this.wrap(await this.inner.acquire(options));
  }
  tryAcquire(weight?: number): Permit | undefined {
    const permit = this.inner.tryAcquire(weight);
    return permit === undefined ? undefined : this.wrap(permit);
  }

  private wrap(permit: Permit): Permit {
    const index = this.releases.push(0) - 1;
    const releases = this.releases;
    return {
      weight: permit.weight,
      get released() {
        return permit.released;
      },
      release() {
        releases[index] = (releases[index] ?? 0) + 1;
        permit.release();
      },
      [Symbol.dispose]() {
        this.release();
      },
    };
  }
}
