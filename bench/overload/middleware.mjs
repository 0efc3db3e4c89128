// The middleware alone, without HTTP: CPU time per call of doorman's Express
// middleware on stand-in request and response objects, for a rejection
// (limit 1 held, maxQueue 0) and for an admission (handler answers at once),
// next to a bare middleware that writes the same 503. What is left once
// Node's HTTP parsing, socket writes and Express's router are taken out.
//
//   node middleware.mjs <path to @doorman/express's dist/esm/index.js>
// Prints one JSON line: { reject, admit, floor, stub } in µs per call (medians).
import { EventEmitter } from 'node:events';
import { setImmediate as turn } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { median } from './stats.mjs';

const { concurrencyLimit } = await import(pathToFileURL(process.argv[2]).href);

/** Enough of a ServerResponse for the middleware: `end` finishes and closes it, as Node does. */
class StubResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  closed = false;
  destroyed = false;
  setHeader() {}
  end() {
    this.headersSent = true;
    process.nextTick(() => {
      this.closed = true;
      this.emit('finish');
      this.emit('close');
    });
  }
}
const req = {};

const rejecting = concurrencyLimit({ limit: 1, maxQueue: 0 });
rejecting.limiter.tryAcquire(); // the only permit, held for good
const admitting = concurrencyLimit({ limit: 1_000_000, maxQueue: 0 });
function floor(_req, res) {
  res.statusCode = 503;
  res.setHeader('Retry-After', '1');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end('Service Unavailable\n');
}

let finished = 0;
let wrong = 0;
function counter(expected) {
  return function onFinish() {
    finished++;
    if (this.statusCode !== expected) wrong++;
  };
}
const cases = {
  reject: [(res) => rejecting(req, res, fail), counter(503)],
  admit: [(res) => admitting(req, res, () => res.end('ok')), counter(200)],
  floor: [(res) => floor(req, res), counter(503)],
  stub: [(res) => res.end('ok'), counter(200)],
};
function fail(error) {
  throw error ?? new Error('a request was admitted past a held limit of 1');
}

const BATCH = 1000;
async function batch([call, onFinish]) {
  for (let i = 0; i < BATCH; i++) {
    const res = new StubResponse();
    res.on('finish', onFinish);
    call(res);
  }
  // Let the rejections (a promise) and the close events (next tick) run.
  await turn();
  await turn();
}

const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
const BATCHES = 20;
for (const c of Object.values(cases)) for (let i = 0; i < BATCHES; i++) await batch(c);
for (let round = 0; round < 5; round++) {
  for (const [name, c] of Object.entries(cases)) {
    finished = 0;
    const start = process.cpuUsage();
    for (let i = 0; i < BATCHES; i++) await batch(c);
    const used = process.cpuUsage(start);
    if (finished !== BATCHES * BATCH || wrong !== 0) {
      throw new Error(`${name}: ${finished} finished, ${wrong} with the wrong status`);
    }
    samples[name].push((used.user + used.system) / (BATCHES * BATCH));
  }
}
if (rejecting.limiter.inUse !== 1 || admitting.limiter.inUse !== 0) {
  throw new Error('permits leaked');
}
const result = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
process.stdout.write(`${JSON.stringify(result)}\n`);
