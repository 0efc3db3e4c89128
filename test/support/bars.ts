/**
 * The bars of the chaos test: a real HTTP server per framework behind a real
 * doorman limit, with a probe in front of the limit that records the line's
 * length and watches each queued response for its collection.
 */
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { concurrencyLimit as expressLimit } from '@doorman/express';
import { concurrencyLimit as fastifyLimit } from '@doorman/fastify';
import { guard } from '@doorman/http';
import { concurrencyLimit as koaLimit } from '@doorman/koa';
import type { Semaphore } from '@doorman/semaphore';
import express from 'express';
import express4 from 'express4';
import fastify from 'fastify';
import fastify4 from 'fastify4';
import Koa from 'koa';
import Koa2 from 'koa2';
import { onTestFinished } from 'vitest';
import { Stage } from '../kit/index.js';

export interface LimitOptions {
  limit: number;
  maxQueue: number;
  queueTimeoutMs: number;
}

/** A running bar: an HTTP server, its limiter, its stage, and what the probe saw. */
export interface Bar {
  /** Where the handler cannot be seen (Express `app.use`, the guard), a leaving client frees its room at once. */
  framework: 'express' | 'koa' | 'guard' | 'fastify';
  server: Server;
  port: number;
  limiter: Semaphore;
  stage: Stage;
  /** Most waiters right after any request met the limiter. */
  peakWaiting: number;
  /** URLs with a query (the tagged requests) whose server-side response has closed. */
  closed: string[];
  /** Server-side responses of requests the limiter queued... */
  queuedResponses: number;
  /** ...and how many of them the garbage collector has reclaimed. */
  collectedResponses: number;
}

/** Counts, for a bar, the queued responses that have been garbage-collected. */
function watchQueued(bar: { queuedResponses: number; collectedResponses: number }) {
  const registry = new FinalizationRegistry<undefined>(() => {
    bar.collectedResponses++;
  });
  return (res: object) => {
    bar.queuedResponses++;
    registry.register(res, undefined);
  };
}

/**
 * Routes: `/sing` holds its room until released, then answers 200 `sang`;
 * `/stream` writes `la ` at once, holds, then ends with `la`. A probe in
 * front of the limiter records the line's length and watches each queued
 * response for its collection.
 */
export type BarFactory = (options: LimitOptions) => Promise<Bar>;

function listen(
  handler: http.RequestListener | Server,
  bar: Omit<Bar, 'server' | 'port'>,
): Promise<Bar> {
  const server = typeof handler === 'function' ? http.createServer(handler) : handler;
  onTestFinished(async () => {
    server.closeAllConnections();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(Object.assign(bar, { server, port: (server.address() as AddressInfo).port }));
    });
  });
}

function expressBar(factory: typeof express): BarFactory {
  return (options) => {
    const limit = expressLimit({ ...options, name: 'chaos' });
    const bar = {
      framework: 'express' as const,
      limiter: limit.limiter as Semaphore,
      stage: new Stage(),
      peakWaiting: 0,
      closed: [] as string[],
      queuedResponses: 0,
      collectedResponses: 0,
    };
    const watch = watchQueued(bar);
    const app = factory();
    app.use((req, res, next) => {
      if (req.url.includes('?')) res.once('close', () => bar.closed.push(req.url));
      const before = bar.limiter.waiting;
      let admittedNow = false;
      limit(req, res, (error?: unknown) => {
        admittedNow = true;
        next(error);
      });
      bar.peakWaiting = Math.max(bar.peakWaiting, bar.limiter.waiting);
      if (!admittedNow && bar.limiter.waiting > before) watch(res);
    });
    app.get('/sing', async (_req, res) => {
      await bar.stage.enter();
      res.send('sang');
    });
    app.get('/stream', async (_req, res) => {
      res.write('la ');
      await bar.stage.enter();
      res.end('la');
    });
    return listen(app, bar);
  };
}

function koaBar(KoaApp: typeof Koa): BarFactory {
  return (options) => {
    const limit = koaLimit({ ...options, name: 'chaos' });
    const bar = {
      framework: 'koa' as const,
      limiter: limit.limiter as Semaphore,
      stage: new Stage(),
      peakWaiting: 0,
      closed: [] as string[],
      queuedResponses: 0,
      collectedResponses: 0,
    };
    const watch = watchQueued(bar);
    const app = new KoaApp();
    app.use((ctx, next) => {
      const url = ctx.url;
      if (url.includes('?')) ctx.res.once('close', () => bar.closed.push(url));
      const before = bar.limiter.waiting;
      let admittedNow = false;
      const done = limit(ctx, () => {
        admittedNow = true;
        return next();
      });
      bar.peakWaiting = Math.max(bar.peakWaiting, bar.limiter.waiting);
      if (!admittedNow && bar.limiter.waiting > before) watch(ctx.res);
      return done;
    });
    app.use(async (ctx) => {
      if (ctx.path === '/sing') {
        await bar.stage.enter();
        ctx.body = 'sang';
      } else if (ctx.path === '/stream') {
        // The first chunk goes out at once; the rest once the room is released.
        const stage = bar.stage;
        ctx.type = 'text/plain';
        ctx.body = Readable.from(
          (async function* () {
            yield 'la ';
            await stage.enter();
            yield 'la';
          })(),
          { objectMode: false },
        );
      }
    });
    return listen(app.callback(), bar);
  };
}

/** The guard in front of a bare listener; the probe wraps the guard. */
const guardBar: BarFactory = (options) => {
  const bar = {
    framework: 'guard' as const,
    limiter: undefined as unknown as Semaphore,
    stage: new Stage(),
    peakWaiting: 0,
    closed: [] as string[],
    queuedResponses: 0,
    collectedResponses: 0,
  };
  const watch = watchQueued(bar);
  let admittedNow = false;
  const limited = guard({ ...options, name: 'chaos' }, async (req, res) => {
    admittedNow = true;
    const path = (req.url ?? '').split('?')[0];
    if (path === '/sing') {
      await bar.stage.enter();
      res.end('sang');
    } else if (path === '/stream') {
      res.write('la ');
      await bar.stage.enter();
      res.end('la');
    }
  });
  bar.limiter = limited.limiter;
  return listen((req, res) => {
    const url = req.url ?? '';
    if (url.includes('?')) res.once('close', () => bar.closed.push(url));
    const before = bar.limiter.waiting;
    admittedNow = false;
    limited(req, res);
    bar.peakWaiting = Math.max(bar.peakWaiting, bar.limiter.waiting);
    if (!admittedNow && bar.limiter.waiting > before) watch(res);
  }, bar);
};

/** Fastify with the limit as its app-wide `onRequest` hook; the probe is a hook before it. */
function fastifyBar(factory: typeof fastify): BarFactory {
  return async (options) => {
    const limit = fastifyLimit({ ...options, name: 'chaos' });
    const bar = {
      framework: 'fastify' as const,
      limiter: limit.limiter,
      stage: new Stage(),
      peakWaiting: 0,
      closed: [] as string[],
      queuedResponses: 0,
      collectedResponses: 0,
    };
    const watch = watchQueued(bar);
    let server: Server | undefined;
    const app = factory({
      logger: false,
      serverFactory: (handler) => {
        server = http.createServer(handler);
        return server;
      },
    });
    app.addHook('onRequest', (request, reply, done) => {
      const url = request.raw.url ?? '';
      if (url.includes('?')) reply.raw.once('close', () => bar.closed.push(url));
      const before = bar.limiter.waiting;
      let admittedNow = false;
      limit(request, reply, (error) => {
        admittedNow = true;
        done(error);
      });
      bar.peakWaiting = Math.max(bar.peakWaiting, bar.limiter.waiting);
      if (!admittedNow && bar.limiter.waiting > before) watch(reply.raw);
    });
    app.get('/sing', async () => {
      await bar.stage.enter();
      return 'sang';
    });
    app.get('/stream', async (_request, reply) => {
      const stage = bar.stage;
      return reply.type('text/plain').send(
        Readable.from(
          (async function* () {
            yield 'la ';
            await stage.enter();
            yield 'la';
          })(),
          { objectMode: false },
        ),
      );
    });
    await app.ready();
    return listen(server as Server, bar);
  };
}

export const bars: Array<[string, BarFactory]> = [
  ['Express 5', expressBar(express)],
  ['Express 4', expressBar(express4)],
  ['Koa 3', koaBar(Koa)],
  ['Koa 2', koaBar(Koa2)],
  ['the guard', guardBar],
  ['Fastify 5', fastifyBar(fastify)],
  ['Fastify 4', fastifyBar(fastify4 as unknown as typeof fastify)],
];
