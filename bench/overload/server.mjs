// One server of the overload benchmark, run in its own process by run.mjs
// (forked with an IPC channel, pinned to its own core when taskset exists):
//
//   node server.mjs <variant> [--no-instrument]
//
// Overload variants (Express 5 unless said):
//   none            handler → backend
//   express-queue   express-queue, activeLimit 10, queuedLimit 50
//   doorman         doorman's Express middleware, limit 10, maxQueue 50, 500 ms
//   doorman-lifo    the same, order 'lifo'
//   guard           doorman's guard() in front of the Express app, same options
//   floor           Express: a middleware that writes a 503 at once, no backend
//   floor-node      node:http: a listener that writes the same 503 at once
// The handler of every variant but the floors calls a simulated backend that
// thrashes past 10 concurrent calls, as a saturated database does.
//
// CPU variants (no backend, the handler answers at once; "held" means the one
// permit is taken by a GET /hold that never ends, so every other request is
// rejected):
//   cpu-none             Express, no limiter
//   cpu-admit            Express + doorman middleware, a limit never reached
//   cpu-reject           Express + doorman middleware, limit 1 held, maxQueue 0
//   cpu-floor            Express: a middleware writes the 503 itself
//   cpu-guard-admit      guard() in front of Express, a limit never reached
//   cpu-guard-reject     guard() in front of Express, limit 1 held, maxQueue 0
//   cpu-node-floor       node:http: writeHead + end of the same 503
//   cpu-eq-admit         express-queue with a limit never reached
//   cpu-eq-reject        express-queue activeLimit 1 held, queuedLimit 0
//   cpu-fastify-none     Fastify 5, no limiter
//   cpu-fastify-floor    Fastify: an onRequest hook replies the 503 itself
//   cpu-fastify-admit    Fastify + doorman's onRequest hook, a limit never reached
//   cpu-fastify-reject   Fastify + doorman's onRequest hook, limit 1 held, maxQueue 0
//
// It prints nothing; it sends { port } over IPC once listening, then answers
// { id, cmd } messages: `reset` starts a measured window, `stats` reports it.
// Stats bypass the limiter since they never travel over HTTP.
import { EventEmitter } from 'node:events';
import { createServer, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { byClass, summarize } from './stats.mjs';

const variant = process.argv[2];
const instrument = !process.argv.includes('--no-instrument');

// ---- the simulated backend
// Service time is fixed when a call starts: 20 ms at up to 10 calls in
// flight, then growing with the square of the crowd (50 in flight: 500 ms
// each, so 100 calls/s against 500/s at 10).
const BASE_MS = 20;
const KNEE = 10;
let inFlight = 0;
let peakInFlight = 0;
let backendCalls = 0;
function backend() {
  inFlight++;
  backendCalls++;
  if (inFlight > peakInFlight) peakInFlight = inFlight;
  const ms = BASE_MS * Math.max(1, (inFlight / KNEE) ** 2);
  return new Promise((resolve) => {
    setTimeout(() => {
      inFlight--;
      resolve();
    }, ms);
  });
}

// ---- the app
const held = [];
let limiter;
const BODY_503 = 'Service Unavailable\n';
/** The same response doorman writes for a rejection, with no limiter behind it, as Express code writes it. */
function floor(_req, res) {
  res.statusCode = 503;
  res.setHeader('Retry-After', '1');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(BODY_503);
}
const HEAD_503 = [
  'Retry-After',
  '1',
  'Content-Type',
  'text/plain; charset=utf-8',
  'Content-Length',
  String(BODY_503.length),
  'Cache-Control',
  'no-store',
];
/** The same 503 the cheapest way node:http has: one `writeHead`, one `end`. */
function nodeFloor(_req, res) {
  res.writeHead(503, HEAD_503);
  res.end(BODY_503);
}
async function withBackend(_req, res) {
  await backend();
  res.end('ok\n');
}
function atOnce(_req, res) {
  res.end('ok\n');
}
function hold(_req, res) {
  held.push(res);
}

// doorman's packages: the runner's copy of the build (DOORMAN_PACKAGES), or
// alone, the workspace's.
function doormanPackage(name) {
  const from = process.env.DOORMAN_PACKAGES;
  return import(
    from === undefined
      ? `@doorman/${name}`
      : pathToFileURL(join(from, 'node_modules', '@doorman', name, 'dist', 'esm', 'index.js')).href
  );
}
async function doorman(options) {
  const { concurrencyLimit } = await doormanPackage('express');
  const middleware = concurrencyLimit({ name: 'overload', ...options });
  limiter = middleware.limiter;
  return middleware;
}
async function doormanGuard(options, listener) {
  const { guard } = await doormanPackage('http');
  const guarded = guard({ name: 'overload', ...options }, listener);
  limiter = guarded.limiter;
  return guarded;
}
async function expressQueue(options) {
  const { default: queue } = await import('express-queue');
  return queue(options);
}
async function expressApp(setup) {
  const { default: express } = await import('express');
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  await setup(app);
  return app;
}
/** A Fastify app's request listener, to be served by this file's own server like the others. */
async function fastifyApp(setup) {
  const { default: Fastify } = await import('fastify');
  let handler;
  const app = Fastify({
    logger: false,
    serverFactory(h) {
      handler = h;
      return new EventEmitter(); // never listens: the server below calls the handler
    },
  });
  await setup(app);
  await app.ready();
  return handler;
}
async function fastifyLimit(options) {
  const { concurrencyLimit } = await doormanPackage('fastify');
  const hook = concurrencyLimit({ name: 'overload', ...options });
  limiter = hook.limiter;
  return hook;
}

/** The request listener of each variant. */
const variants = {
  none: () => expressApp((app) => app.get('/', withBackend)),
  'express-queue': () =>
    expressApp(async (app) => {
      app.use(await expressQueue({ activeLimit: 10, queuedLimit: 50 }));
      app.get('/', withBackend);
    }),
  doorman: () =>
    expressApp(async (app) => {
      app.use(await doorman({ limit: 10, maxQueue: 50, queueTimeoutMs: 500 }));
      app.get('/', withBackend);
    }),
  'doorman-lifo': () =>
    expressApp(async (app) => {
      app.use(await doorman({ limit: 10, maxQueue: 50, queueTimeoutMs: 500, order: 'lifo' }));
      app.get('/', withBackend);
    }),
  guard: async () =>
    doormanGuard(
      { limit: 10, maxQueue: 50, queueTimeoutMs: 500 },
      await expressApp((app) => app.get('/', withBackend)),
    ),
  floor: () => expressApp((app) => app.use(floor)),
  'floor-node': () => nodeFloor,
  'cpu-floor': () => expressApp((app) => app.use(floor)),
  'cpu-node-floor': () => nodeFloor,
  'cpu-none': () => expressApp((app) => app.get('/', atOnce)),
  'cpu-admit': () =>
    expressApp(async (app) => {
      app.use(await doorman({ limit: 100_000, maxQueue: 0 }));
      app.get('/', atOnce);
    }),
  'cpu-reject': () =>
    expressApp(async (app) => {
      app.use(await doorman({ limit: 1, maxQueue: 0 }));
      app.get('/hold', hold);
      app.get('/', atOnce);
    }),
  'cpu-guard-admit': async () =>
    doormanGuard({ limit: 100_000, maxQueue: 0 }, await expressApp((app) => app.get('/', atOnce))),
  'cpu-guard-reject': async () =>
    doormanGuard(
      { limit: 1, maxQueue: 0 },
      await expressApp((app) => {
        app.get('/hold', hold);
        app.get('/', atOnce);
      }),
    ),
  'cpu-eq-admit': () =>
    expressApp(async (app) => {
      app.use(await expressQueue({ activeLimit: 100_000, queuedLimit: -1 }));
      app.get('/', atOnce);
    }),
  'cpu-eq-reject': () =>
    expressApp(async (app) => {
      app.use(await expressQueue({ activeLimit: 1, queuedLimit: 0 }));
      app.get('/hold', hold);
      app.get('/', atOnce);
    }),
  'cpu-fastify-none': () =>
    fastifyApp((app) => {
      app.get('/', (_request, reply) => {
        reply.send('ok\n');
      });
    }),
  'cpu-fastify-floor': () =>
    fastifyApp((app) => {
      // Replying from a hook ends the request there: `done` is not called.
      app.addHook('onRequest', (_request, reply) => {
        reply
          .code(503)
          .headers({
            'Retry-After': '1',
            'Content-Type': 'text/plain; charset=utf-8',
            'Cache-Control': 'no-store',
          })
          .send(BODY_503);
      });
      app.get('/', (_request, reply) => {
        reply.send('ok\n');
      });
    }),
  'cpu-fastify-admit': () =>
    fastifyApp(async (app) => {
      app.addHook('onRequest', await fastifyLimit({ limit: 100_000, maxQueue: 0 }));
      app.get('/', (_request, reply) => {
        reply.send('ok\n');
      });
    }),
  'cpu-fastify-reject': () =>
    fastifyApp(async (app) => {
      app.addHook('onRequest', await fastifyLimit({ limit: 1, maxQueue: 0 }));
      app.get('/hold', (_request, reply) => {
        held.push(reply.raw);
        reply.hijack();
      });
      app.get('/', (_request, reply) => {
        reply.send('ok\n');
      });
    }),
};
if (!Object.hasOwn(variants, variant)) throw new Error(`unknown variant ${variant}`);
const app = await variants[variant]();

// ---- what the server measures about itself, per window
let arrivals = 0;
let rejectMs = new Map(); // reason -> ms from arrival (the server's request event) to the 503's `finish`
let okMs = []; // the same for 2xx, for reference
let rssMax = 0;
let cpuStart = process.cpuUsage();
let windowStart = performance.now();
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
let gcCount = 0;
let gcMs = 0;
let gcMaxMs = 0;
let countersAtReset = null;

function sampleRss() {
  const rss = process.memoryUsage.rss();
  if (rss > rssMax) rssMax = rss;
}
if (instrument) {
  setInterval(sampleRss, 100).unref();
  loopDelay.enable();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount++;
      gcMs += entry.duration;
      if (entry.duration > gcMaxMs) gcMaxMs = entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
}

function onFinish() {
  const ms = performance.now() - this.arrivedAt;
  if (this.statusCode === 503) {
    const reason = this.rejectReason ?? 'UNTAGGED';
    let list = rejectMs.get(reason);
    if (list === undefined) {
      list = [];
      rejectMs.set(reason, list);
    }
    list.push(ms);
  } else if (this.statusCode < 300) okMs.push(ms);
}

if (instrument) {
  // Tag each 503 with the reason its body names (doorman writes
  // "Service Unavailable (QUEUE_FULL)"; express-queue and the floors name
  // none: they only ever shed at once), in a header the load generator
  // reads, so both sides can tell a shed request from a queue timeout. A 503
  // written with `writeHead` has its head held back until `end` brings the
  // body, so the tag can still go in.
  const { writeHead, end } = ServerResponse.prototype;
  ServerResponse.prototype.writeHead = function writeHead503(status, reason, headers) {
    // Not when `end` writes the head itself (its implicit `writeHead`): the tag is in by then.
    if (status === 503 && this.rejectReason === undefined && this.heldHead === undefined) {
      this.statusCode = 503;
      this.heldHead = [status, reason, headers];
      return this;
    }
    return writeHead.call(this, status, reason, headers);
  };
  ServerResponse.prototype.end = function end503(chunk, encoding, callback) {
    if (this.statusCode === 503 && this.rejectReason === undefined) {
      const body = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? String(chunk) : '';
      const named = /\(([A-Z_]+)\)/.exec(body);
      this.rejectReason = named === null ? 'AT_ONCE' : named[1];
      if (!this.headersSent) this.setHeader('x-bench-reject', this.rejectReason);
    }
    if (this.heldHead !== undefined) {
      const [status, reason, headers] = this.heldHead;
      this.heldHead = undefined;
      writeHead.call(this, status, reason, headers);
    }
    return end.call(this, chunk, encoding, callback);
  };
}

const server = createServer(
  instrument
    ? (req, res) => {
        arrivals++;
        res.arrivedAt = performance.now();
        res.once('finish', onFinish);
        app(req, res);
      }
    : (req, res) => {
        if (req.url !== '/hold') arrivals++;
        app(req, res);
      },
);
server.keepAliveTimeout = 60_000;
server.headersTimeout = 70_000;
server.maxRequestsPerSocket = 0;

/** Counters of the window: now minus at reset, field by field. */
function since(now, then) {
  if (now === null || typeof now !== 'object') return now;
  const out = {};
  for (const [k, v] of Object.entries(now)) {
    out[k] = typeof v === 'number' ? v - (then?.[k] ?? 0) : since(v, then?.[k]);
  }
  return out;
}

function reset() {
  arrivals = 0;
  rejectMs = new Map();
  okMs = [];
  rssMax = 0;
  sampleRss();
  loopDelay.reset();
  gcCount = 0;
  gcMs = 0;
  gcMaxMs = 0;
  peakInFlight = inFlight;
  backendCalls = 0;
  countersAtReset = limiter?.counters ?? null;
  windowStart = performance.now();
  cpuStart = process.cpuUsage();
}

function stats() {
  const cpu = process.cpuUsage(cpuStart);
  sampleRss();
  return {
    variant,
    windowMs: performance.now() - windowStart,
    arrivals,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssMaxBytes: rssMax,
    rssNowBytes: process.memoryUsage.rss(),
    heapUsedBytes: process.memoryUsage().heapUsed,
    reject: byClass(rejectMs),
    ok: summarize(okMs),
    loopDelayMs: instrument
      ? {
          p50: loopDelay.percentile(50) / 1e6,
          p99: loopDelay.percentile(99) / 1e6,
          max: loopDelay.max / 1e6,
        }
      : null,
    gc: { count: gcCount, totalMs: gcMs, maxMs: gcMaxMs },
    backend: { inFlight, peakInFlight, calls: backendCalls },
    limiter:
      limiter === undefined
        ? null
        : {
            inUse: limiter.inUse,
            waiting: limiter.waiting,
            counters: since(limiter.counters, countersAtReset),
          },
  };
}

// CPU attribution: V8's sampling profiler over a window, self time summed by
// whose code it is. Its overhead inflates the CPU time, so the runner takes
// these samples in runs of their own.
let session;
async function profileStart() {
  const { Session } = await import('node:inspector/promises');
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 50 });
  await session.post('Profiler.start');
}
async function profileStop() {
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const byOwner = {};
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = nodes.get(profile.samples[i]).callFrame;
    const owner = ownerOf(frame);
    if (owner !== 'idle') byOwner[owner] = (byOwner[owner] ?? 0) + profile.timeDeltas[i];
  }
  return byOwner;
}
function ownerOf({ url, functionName }) {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'gc';
  if (/[\\/]packages[\\/](semaphore|express)[\\/]|@doorman/.test(url)) return 'doorman';
  if (/express-queue|mini-queue|express-end/.test(url)) return 'express-queue';
  if (url.includes('node_modules')) return 'framework'; // Express or Fastify and their dependencies
  if (url.endsWith('server.mjs') || url.endsWith('stats.mjs')) return 'bench';
  return 'node'; // Node's own JavaScript (node:...), native code, V8
}

process.on('message', async (msg) => {
  let reply;
  if (msg.cmd === 'reset') {
    reset();
    reply = { ok: true };
  } else if (msg.cmd === 'stats') {
    reply = stats();
  } else if (msg.cmd === 'release') {
    for (const res of held.splice(0)) res.end('released\n');
    reply = { ok: true };
  } else if (msg.cmd === 'profile-start') {
    await profileStart();
    reply = { ok: true };
  } else if (msg.cmd === 'profile-stop') {
    reply = { byOwner: await profileStop() };
  } else {
    reply = { error: `unknown command ${msg.cmd}` };
  }
  process.send({ id: msg.id, ...reply });
});
process.on('disconnect', () => process.exit(0));

// Every connection of a run opens at once (2,500 at 5x): the default backlog
// (511) would drop SYNs, which clients retry only 1 s and 3 s later.
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  reset();
  process.send({ port: server.address().port });
});
