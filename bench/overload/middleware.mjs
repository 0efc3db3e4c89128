// The middleware alone, without HTTP parsing or a network: CPU time per call
// of doorman's Express middleware and of `guard` (and, when it is built,
// Fastify's hook), for a rejection (limit 1 held, maxQueue 0) and for an
// admission (a limit never reached, the handler answers at once), next to
// the same response written directly.
//
// The request and response are Node's own `IncomingMessage` and
// `ServerResponse`, over a stand-in socket that takes every write and calls
// its callback on the next tick. What Node's server does once a response has
// finished (`resOnFinish`: dump the request body, detach the socket, emit
// `close` on the next tick) is done here the same way, so the middleware sees
// what it sees in a server: `res.req`, `res.writeHead`, `res.writableFinished`,
// `req.socket.destroyed`, the request's and the response's `close`.
//
// Every case pays for the same request, response and socket work; the
// "less the baseline" figure is what the middleware adds to writing the same
// response directly (for a rejection: the identical 503 with `writeHead` and
// `end`, the cheapest way Node has), which is the middleware's own cost.
//
// Fastify's hook cannot run without Fastify's request and reply, so it is
// measured inside a real Fastify app fed the same stand-ins: the app with the
// hook, less the app with a hook that writes the same 503 itself (rejection)
// or with an empty hook (admission).
//
//   node middleware.mjs <folder holding node_modules/@doorman/*> [--quick]
// Prints one JSON line: { cases: { name: µs per call }, added: { name: µs over
// its baseline }, samples, fastify: boolean }.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { median } from './stats.mjs';

const root = process.argv[2];
const quick = process.argv.includes('--quick');
const entry = (name) => join(root, 'node_modules', '@doorman', name, 'dist', 'esm', 'index.js');
const load = (name) => import(pathToFileURL(entry(name)).href);
const { concurrencyLimit } = await load('express');
const { guard } = await load('http');
const fastifyAdapter = existsSync(entry('fastify')) ? await load('fastify') : undefined;

/**
 * Enough of a `net.Socket` for a `ServerResponse`: writable, never corked for
 * long, every write accepted and its callback called on the next tick (a
 * real socket calls it once the kernel has the bytes, later still).
 */
class StandInSocket extends EventEmitter {
  writable = true;
  readable = true;
  destroyed = false;
  writableLength = 0;
  writableCorked = 0;
  writableHighWaterMark = 16384;
  _writableState = { corked: 0 };
  _httpMessage = null;
  remoteAddress = '127.0.0.1';
  encrypted = undefined;
  write(_data, encoding, callback) {
    const cb = typeof encoding === 'function' ? encoding : callback;
    if (cb !== undefined) process.nextTick(cb);
    return true;
  }
  cork() {
    this.writableCorked++;
  }
  uncork() {
    if (this.writableCorked > 0) this.writableCorked--;
  }
  setTimeout() {
    return this;
  }
  destroy() {
    this.destroyed = true;
  }
}

function emitClose(res) {
  if (!res._closed) {
    res.destroyed = true;
    res._closed = true;
    res.emit('close');
  }
}
/** What Node's server does when a response finishes (`resOnFinish` in `_http_server`). */
function serverOnFinish() {
  const req = this.req;
  if (!req._consuming && !req._readableState.resumeScheduled) req._dump();
  this.detachSocket(this.socket);
  process.nextTick(emitClose, this);
}

const RAW_HEADERS = ['Host', '127.0.0.1', 'User-Agent', 'bench', 'Accept', '*/*'];
/** A request and its response, as Node's server hands them to its listener. */
function exchange(socket) {
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  req.rawHeaders = RAW_HEADERS;
  req.complete = true;
  req.push(null);
  const res = new ServerResponse(req);
  res.shouldKeepAlive = true;
  res.assignSocket(socket);
  res.on('finish', serverOnFinish);
  return [req, res];
}

// The refusal doorman writes by default, written directly: the cheapest way.
const BODY_503 = 'Service Unavailable (QUEUE_FULL)\n';
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
const HEAD_503_OBJECT = {
  'Retry-After': '1',
  'Content-Type': 'text/plain; charset=utf-8',
  'Cache-Control': 'no-store',
};
function write503(_req, res) {
  res.writeHead(503, HEAD_503);
  res.end(BODY_503);
}
function answer(_req, res) {
  res.end('ok');
}
function fail(error) {
  throw error ?? new Error('a request was admitted past a held limit of 1');
}

const expressReject = concurrencyLimit({ limit: 1, maxQueue: 0 });
expressReject.limiter.tryAcquire(); // the only permit, held for good
const expressAdmit = concurrencyLimit({ limit: 1_000_000, maxQueue: 0 });
const guardReject = guard({ limit: 1, maxQueue: 0 }, fail);
guardReject.limiter.tryAcquire();
const guardAdmit = guard({ limit: 1_000_000, maxQueue: 0 }, answer);
const limiters = [
  [expressReject.limiter, 1],
  [expressAdmit.limiter, 0],
  [guardReject.limiter, 1],
  [guardAdmit.limiter, 0],
];

const cases = {
  'express-reject': [(req, res) => expressReject(req, res, fail), 503],
  'express-admit': [(req, res) => expressAdmit(req, res, () => answer(req, res)), 200],
  'guard-reject': [guardReject, 503],
  'guard-admit': [guardAdmit, 200],
  'direct-503': [write503, 503],
  'direct-200': [answer, 200],
};

if (fastifyAdapter !== undefined || process.argv.includes('--fastify-baseline')) {
  const { default: Fastify } = await import('fastify');
  async function fastifyApp(hook) {
    let handler;
    const app = Fastify({
      logger: false,
      serverFactory(h) {
        handler = h;
        return new EventEmitter(); // never listens: fed by hand
      },
    });
    if (hook !== undefined) app.addHook('onRequest', hook);
    app.get('/', (_request, reply) => {
      reply.send('ok');
    });
    await app.ready();
    return handler;
  }
  cases['fastify-empty-hook'] = [
    await fastifyApp((_request, _reply, done) => {
      done();
    }),
    200,
  ];
  cases['fastify-503-hook'] = [
    await fastifyApp((_request, reply) => {
      // Replying from a hook ends the request there: `done` is not called.
      reply.code(503).headers(HEAD_503_OBJECT).send(BODY_503);
    }),
    503,
  ];
  if (fastifyAdapter !== undefined) {
    const reject = fastifyAdapter.concurrencyLimit({ limit: 1, maxQueue: 0 });
    reject.limiter.tryAcquire();
    const admit = fastifyAdapter.concurrencyLimit({ limit: 1_000_000, maxQueue: 0 });
    limiters.push([reject.limiter, 1], [admit.limiter, 0]);
    cases['fastify-reject'] = [await fastifyApp(reject), 503];
    cases['fastify-admit'] = [await fastifyApp(admit), 200];
  }
}

const BATCH = 1000;
const sockets = Array.from({ length: BATCH }, () => new StandInSocket());
let finished = 0;
let wrong = 0;
let expected = 0;
function onFinish() {
  finished++;
  if (this.statusCode !== expected) wrong++;
}
async function batch([call, status]) {
  expected = status;
  for (let i = 0; i < BATCH; i++) {
    const [req, res] = exchange(sockets[i]);
    res.once('finish', onFinish);
    call(req, res);
  }
  // Let the writes' callbacks, the `finish` and `close` events run.
  await turn();
  await turn();
}

// Cases are interleaved batch by batch, the order rotating, so that a busy
// moment of the machine falls on every case alike; a round's sample is the
// CPU time of its batches of one case, and each figure is a median over rounds.
const BATCHES = quick ? 4 : 10;
const ROUNDS = quick ? 5 : 15;
const names = Object.keys(cases);
const samples = Object.fromEntries(names.map((k) => [k, []]));
for (const name of names) for (let i = 0; i < 20; i++) await batch(cases[name]);
for (let round = 0; round < ROUNDS; round++) {
  const used = Object.fromEntries(names.map((k) => [k, 0]));
  for (let b = 0; b < BATCHES; b++) {
    const shift = (round * BATCHES + b) % names.length;
    for (const name of names.slice(shift).concat(names.slice(0, shift))) {
      finished = 0;
      wrong = 0;
      const start = process.cpuUsage();
      await batch(cases[name]);
      const cpu = process.cpuUsage(start);
      if (finished !== BATCH || wrong !== 0) {
        throw new Error(`${name}: ${finished} finished, ${wrong} with the wrong status`);
      }
      used[name] += cpu.user + cpu.system;
    }
  }
  for (const name of names) samples[name].push(used[name] / (BATCHES * BATCH));
}
for (const [limiter, inUse] of limiters) {
  if (limiter.inUse !== inUse) throw new Error(`permits leaked: ${limiter.inUse} in use`);
}
const result = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
/** What a case adds to its baseline: the median over rounds of the difference within each round. */
const over = (name, baseline) =>
  samples[name] === undefined
    ? undefined
    : median(samples[name].map((v, i) => v - samples[baseline][i]));
const added = {
  'express-reject': over('express-reject', 'direct-503'),
  'express-admit': over('express-admit', 'direct-200'),
  'guard-reject': over('guard-reject', 'direct-503'),
  'guard-admit': over('guard-admit', 'direct-200'),
  'fastify-reject': over('fastify-reject', 'fastify-503-hook'),
  'fastify-admit': over('fastify-admit', 'fastify-empty-hook'),
};
process.stdout.write(
  `${JSON.stringify({ cases: result, added, samples, rounds: ROUNDS, calls: BATCHES * BATCH, fastify: fastifyAdapter !== undefined })}\n`,
);
