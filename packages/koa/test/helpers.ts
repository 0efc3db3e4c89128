import http, { type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Semaphore } from '@doorman/semaphore';
import Koa from 'koa';
import Koa2 from 'koa2';
import { onTestFinished } from 'vitest';
import {
  type Deferred,
  deferred,
  RecordingLimiter,
  Stage,
  waitUntil,
} from '../../../test/kit/index.js';

export { type Deferred, deferred, Stage };

export type KoaClass = typeof Koa;

/** Every behaviour test runs once per Koa major. */
export const koaVersions: Array<[string, KoaClass]> = [
  ['Koa 2', Koa2],
  ['Koa 3', Koa],
];

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
 * Waits, one event-loop turn at a time, until `predicate` holds (the kit's
 * `waitUntil`): no timer, no sleep, a bounded number of turns.
 */
export function until(predicate: () => boolean, what: string, turns = 200_000): Promise<void> {
  return waitUntil(predicate, what, { turns });
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
 * A real `Semaphore` behind the kit's recording limiter, read as the number
 * of `release()` calls of each permit it handed out, so a test can tell a
 * permit released twice (harmless to the semaphore, but a bug in the
 * adapter) from one released once.
 */
export class CountingLimiter extends RecordingLimiter<Semaphore> {
  get releases(): number[] {
    return this.permits.map((permit) => permit.releases);
  }
}
