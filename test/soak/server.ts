/**
 * The soak's server, run in a child process of its own:
 *
 *   node --expose-gc --conditions=@doorman/source --import tsx test/soak/server.ts <express|koa>
 *
 * so that the heap it reports holds the server and nothing else (not the load
 * generator, not the test runner). It listens on an ephemeral port, behind a
 * real `concurrencyLimit`, and answers the parent over IPC: its tallies and
 * the limiter's numbers (`stats`), heap samples after forced GCs (`heap`),
 * and `stop`.
 *
 * Each request says what to do in `x-kind` (see `Kind`) and how long its
 * handler holds the permit in `x-hold` (ms; 0 means one event-loop turn). The
 * `leave-*` kinds are clients that walk away at a given stage: the server
 * tells them when that stage is reached with an informational `102
 * Processing` (or, mid-stream, the first body chunk), and the client destroys
 * its socket when it sees it. So every abort lands exactly at its stage.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { getHeapSpaceStatistics } from 'node:v8';
import { concurrencyLimit as expressLimit } from '@doorman/express';
import { concurrencyLimit as koaLimit } from '@doorman/koa';
import type { Semaphore } from '@doorman/semaphore';
import express, { type NextFunction, type Request, type Response } from 'express';
import Koa from 'koa';
import type { HeapSample, ServerStats, SoakConfig, ToParent, ToServer } from './protocol.js';

const framework = process.argv[2];
if (framework !== 'express' && framework !== 'koa') {
  throw new Error(`usage: server.ts <express|koa>, got ${String(framework)}`);
}
const config = JSON.parse(process.env['SOAK_CONFIG'] ?? '{}') as SoakConfig;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('the soak server needs --expose-gc');

const stats: ServerStats['server'] = {
  arrived: 0,
  upstreamLeft: 0,
  gated: 0,
  queued: 0,
  queuedLeft: 0,
  started: 0,
  startedAfterQueuedLeave: 0,
  admittedLeft: 0,
  streamLeft: 0,
  errors: 0,
  peakInUse: 0,
  peakWaiting: 0,
  otherErrors: {},
};

/** Errors other than the handlers' own, by code or message (a bounded set). */
function noteOther(error: Error): void {
  const name = (error as { code?: string }).code ?? error.message.slice(0, 60);
  stats.otherErrors[name] = (stats.otherErrors[name] ?? 0) + 1;
}

/** Set on a request whose client was told to leave while it was queued. */
const toldToLeaveQueued = Symbol('soak.toldToLeaveQueued');
type Marked = { [toldToLeaveQueued]?: true };

/**
 * A fixed ring of weak references to a sample of the requests served: after
 * a forced GC none may still be alive (a retained request would be a leak).
 * Fixed size, so the probe itself does not grow the heap.
 */
const ring: Array<WeakRef<object> | undefined> = new Array(256).fill(undefined);
let ringNext = 0;
let sampleEvery = 0;
function track(req: object): void {
  if (++sampleEvery % 37 !== 0) return;
  ring[ringNext] = new WeakRef(req);
  ringNext = (ringNext + 1) % ring.length;
}

function kindOf(req: IncomingMessage): string {
  const kind = req.headers['x-kind'];
  return typeof kind === 'string' ? kind : 'ok';
}
function holdOf(req: IncomingMessage): number {
  return Number(req.headers['x-hold'] ?? 0);
}
/** Calls `fn` after `ms` (0: after one event-loop turn). */
function after(ms: number, fn: () => void): void {
  if (ms > 0) setTimeout(fn, ms);
  else setImmediate(fn);
}
const turn = (ms: number) => new Promise<void>((resolve) => after(ms, resolve));
const closeOf = (res: ServerResponse) =>
  new Promise<void>((resolve) => {
    if (res.closed) resolve();
    else res.once('close', () => resolve());
  });

/** Records what the limiter looks like right after a request met it. */
function observe(sem: Semaphore, before: number, admittedNow: boolean, req: IncomingMessage) {
  if (sem.waiting > stats.peakWaiting) stats.peakWaiting = sem.waiting;
  if (admittedNow || sem.waiting <= before) return false;
  stats.queued++;
  if (kindOf(req) !== 'leave-queued') return false;
  stats.queuedLeft++;
  (req as Marked)[toldToLeaveQueued] = true;
  return true;
}

function started(sem: Semaphore, req: IncomingMessage): void {
  stats.started++;
  if ((req as Marked)[toldToLeaveQueued]) stats.startedAfterQueuedLeave++;
  if (sem.inUse > stats.peakInUse) stats.peakInUse = sem.inUse;
}

const limitOptions = {
  limit: config.limit,
  maxQueue: config.maxQueue,
  queueTimeoutMs: config.queueTimeoutMs,
  name: 'soak',
};

function expressApp(): { handler: http.RequestListener; sem: Semaphore } {
  const limit = expressLimit(limitOptions);
  const sem = limit.limiter as Semaphore;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // An upstream step, as an auth or body-parsing middleware would be: some
  // requests take a turn of the event loop here, and `leave-upstream` clients
  // walk away during it, before the limiter has seen them.
  app.use((req, res, next) => {
    stats.arrived++;
    track(req);
    if (kindOf(req) === 'leave-upstream') {
      res.once('close', () => {
        stats.upstreamLeft++;
        next();
      });
      res.writeProcessing();
      return;
    }
    if (req.headers['x-upstream'] === 'async') setImmediate(next);
    else next();
  });
  app.get(
    '/soak',
    (req, res, next) => {
      stats.gated++;
      const before = sem.waiting;
      let admittedNow = false;
      limit(req, res, (error?: unknown) => {
        admittedNow = true;
        next(error);
      });
      if (observe(sem, before, admittedNow, req)) res.writeProcessing();
    },
    (req: Request, res: Response, next: NextFunction) => {
      started(sem, req);
      const hold = holdOf(req);
      switch (kindOf(req)) {
        case 'throw':
          throw new Error('soak throw');
        case 'fail':
          after(hold, () => next(new Error('soak fail')));
          return;
        case 'stream':
          res.setHeader('Content-Type', 'text/plain');
          res.write('a');
          setImmediate(() => {
            res.write('b');
            setImmediate(() => res.end('c'));
          });
          return;
        case 'leave-admitted':
          res.once('close', () => {
            stats.admittedLeft++;
          });
          res.writeProcessing();
          return;
        case 'leave-streaming':
          res.once('close', () => {
            stats.streamLeft++;
          });
          res.setHeader('Content-Type', 'text/plain');
          res.write('first');
          return;
        default:
          after(hold, () => {
            res.end('ok');
          });
      }
    },
  );
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    if (error.message.startsWith('soak ')) stats.errors++;
    else noteOther(error);
    res.status(500).end('failed');
  });
  return { handler: app, sem };
}

function koaApp(): { handler: http.RequestListener; sem: Semaphore } {
  const limit = koaLimit(limitOptions);
  const sem = limit.limiter as Semaphore;
  const app = new Koa();
  app.on('error', (error: Error) => {
    if (error.message.startsWith('soak ')) stats.errors++;
    else noteOther(error);
  });
  app.use(async (ctx, next) => {
    stats.arrived++;
    track(ctx.req);
    if (kindOf(ctx.req) === 'leave-upstream') {
      ctx.res.writeProcessing();
      await closeOf(ctx.res);
      stats.upstreamLeft++;
    } else if (ctx.get('x-upstream') === 'async') {
      await turn(0);
    }
    return next();
  });
  app.use((ctx, next) => {
    stats.gated++;
    const before = sem.waiting;
    let admittedNow = false;
    const done = limit(ctx, () => {
      admittedNow = true;
      return next();
    });
    if (observe(sem, before, admittedNow, ctx.req)) ctx.res.writeProcessing();
    return done;
  });
  app.use(async (ctx) => {
    started(sem, ctx.req);
    const hold = holdOf(ctx.req);
    switch (kindOf(ctx.req)) {
      case 'throw':
        throw new Error('soak throw');
      case 'fail':
        await turn(hold);
        throw new Error('soak fail');
      case 'stream':
        ctx.type = 'text/plain';
        ctx.body = Readable.from(chunks(), { objectMode: false });
        return;
      case 'leave-admitted':
        ctx.res.writeProcessing();
        await closeOf(ctx.res);
        stats.admittedLeft++;
        ctx.body = 'nobody is listening';
        return;
      case 'leave-streaming': {
        const body = new Readable({ read() {} });
        body.once('close', () => {
          stats.streamLeft++;
        });
        body.push('first');
        ctx.type = 'text/plain';
        ctx.body = body;
        return;
      }
      default:
        await turn(hold);
        ctx.body = 'ok';
    }
  });
  return { handler: app.callback(), sem };
}

async function* chunks(): AsyncGenerator<string> {
  yield 'a';
  await turn(0);
  yield 'b';
  await turn(0);
  yield 'c';
}

const { handler, sem } = framework === 'express' ? expressApp() : koaApp();
const server = http.createServer(handler);
// The load generator's keep-alive sockets must never be closed under it.
server.keepAliveTimeout = 0;
server.requestTimeout = 0;
server.headersTimeout = 0;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1000);
}

function send(message: ToParent): void {
  process.send?.(message);
}

async function heap(samples: number): Promise<HeapSample> {
  const used: number[] = [];
  for (let i = 0; i < samples; i++) {
    // A few turns first, so closes, timers and finalizers pending now have run.
    for (let t = 0; t < 3; t++) await turn(0);
    (gc as () => void)();
    used.push(process.memoryUsage().heapUsed);
  }
  const alive = ring.filter((ref) => ref?.deref() !== undefined).length;
  const tracked = ring.filter((ref) => ref !== undefined).length;
  const spaces: Record<string, number> = {};
  for (const space of getHeapSpaceStatistics()) spaces[space.space_name] = space.space_used_size;
  return { heapUsed: used, spaces, trackedRequests: tracked, aliveRequests: alive };
}

process.on('message', (message: ToServer) => {
  switch (message.type) {
    case 'stats':
      send({
        type: 'stats',
        stats: {
          server: { ...stats },
          limiter: { inUse: sem.inUse, waiting: sem.waiting, counters: sem.counters },
          cpuMs: cpuMs(),
        },
      });
      return;
    case 'heap':
      void heap(message.samples).then((sample) => send({ type: 'heap', sample }));
      return;
    case 'stop':
      server.closeAllConnections();
      server.close(() => process.exit(0));
      return;
  }
});

server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
});
