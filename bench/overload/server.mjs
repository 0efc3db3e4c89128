// One server of the overload benchmark, run in its own process by run.mjs
// (forked with an IPC channel, pinned to its own core when taskset exists):
//
//   node server.mjs <variant> [--no-instrument]
//
// Overload variants: none | express-queue | doorman | doorman-lifo | floor.
// The handler of every variant but `floor` calls a simulated backend that
// thrashes past 10 concurrent calls, as a saturated database does.
//
// CPU variants (no backend, the handler answers at once):
//   cpu-admit       doorman with a limit never reached: every request admitted
//   cpu-none        the same app with no limiter
//   cpu-reject      doorman limit 1, maxQueue 0, the permit held by GET /hold:
//                   every other request is rejected
//   cpu-floor       a 503 written at once, no limiter
//   cpu-eq-admit    express-queue with a limit never reached
//   cpu-eq-reject   express-queue activeLimit 1, queuedLimit 0, held by GET /hold
//
// It prints nothing; it sends { port } over IPC once listening, then answers
// { id, cmd } messages: `reset` starts a measured window, `stats` reports it.
// Stats bypass the limiter since they never travel over HTTP.
import { createServer, ServerResponse } from 'node:http';
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
const { default: express } = await import('express');
const app = express();
app.disable('x-powered-by');
app.disable('etag');

const held = [];
let limiter;
/** The same response doorman writes for a rejection, with no limiter behind it. */
function floor(_req, res) {
  res.statusCode = 503;
  res.setHeader('Retry-After', '1');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end('Service Unavailable\n');
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

async function doorman(options) {
  // The runner hands over a copy of the built package; alone, the workspace's.
  const from = process.env.DOORMAN_EXPRESS;
  const { concurrencyLimit } = await import(
    from === undefined ? '@doorman/express' : pathToFileURL(from).href
  );
  const middleware = concurrencyLimit({ name: 'overload', ...options });
  limiter = middleware.limiter;
  return middleware;
}
async function expressQueue(options) {
  const { default: queue } = await import('express-queue');
  return queue(options);
}

switch (variant) {
  case 'none':
    app.get('/', withBackend);
    break;
  case 'express-queue':
    app.use(await expressQueue({ activeLimit: 10, queuedLimit: 50 }));
    app.get('/', withBackend);
    break;
  case 'doorman':
    app.use(await doorman({ limit: 10, maxQueue: 50, queueTimeoutMs: 500 }));
    app.get('/', withBackend);
    break;
  case 'doorman-lifo':
    app.use(await doorman({ limit: 10, maxQueue: 50, queueTimeoutMs: 500, order: 'lifo' }));
    app.get('/', withBackend);
    break;
  case 'floor':
  case 'cpu-floor':
    app.use(floor);
    break;
  case 'cpu-none':
    app.get('/', atOnce);
    break;
  case 'cpu-admit':
    app.use(await doorman({ limit: 100_000, maxQueue: 0 }));
    app.get('/', atOnce);
    break;
  case 'cpu-reject':
    app.use(await doorman({ limit: 1, maxQueue: 0 }));
    app.get('/hold', hold);
    app.get('/', atOnce);
    break;
  case 'cpu-eq-admit':
    app.use(await expressQueue({ activeLimit: 100_000, queuedLimit: -1 }));
    app.get('/', atOnce);
    break;
  case 'cpu-eq-reject':
    app.use(await expressQueue({ activeLimit: 1, queuedLimit: 0 }));
    app.get('/hold', hold);
    app.get('/', atOnce);
    break;
  default:
    throw new Error(`unknown variant ${variant}`);
}

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
  // "Service Unavailable (QUEUE_FULL)"; express-queue and the floor name
  // none: they only ever shed at once), in a header the load generator
  // reads, so both sides can tell a shed request from a queue timeout.
  const end = ServerResponse.prototype.end;
  ServerResponse.prototype.end = function end503(chunk, encoding, callback) {
    if (this.statusCode === 503 && this.rejectReason === undefined) {
      const named = typeof chunk === 'string' ? /\(([A-Z_]+)\)/.exec(chunk) : null;
      this.rejectReason = named === null ? 'AT_ONCE' : named[1];
      if (!this.headersSent) this.setHeader('x-bench-reject', this.rejectReason);
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
  if (url.includes('node_modules')) return 'express';
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
