// One server of the fairness benchmark, run in its own process by run.mjs:
//
//   node server.mjs <global|fair> [base ms, default 50]
//
// Express 5 in front of a simulated backend that thrashes past 10 calls in
// flight (as bench/overload's) and whose calls vary by ±50% around their
// mean, drawn from a seeded generator so every run draws the same sequence.
// Tenants are named by the `x-tenant` header. It sends { port } over IPC once
// listening, answers { id, cmd: 'reset' | 'stats' } with the backend's peak
// calls in flight and the quiet tenants' waits for a permit (ms), and exits
// when the runner goes away.
import { createServer } from 'node:http';

const variant = process.argv[2];

// ---- the simulated backend: BASE_MS × (0.5 to 1.5) at up to 10 in flight,
// then growing with the square of the crowd.
const BASE_MS = Number(process.argv[3] ?? 50);
const KNEE = 10;
let seed = 0x5eed;
/** mulberry32: a small seeded generator, uniform in [0, 1). */
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
let inFlight = 0;
let peakInFlight = 0;
function backend() {
  inFlight++;
  if (inFlight > peakInFlight) peakInFlight = inFlight;
  const ms = BASE_MS * (0.5 + random()) * Math.max(1, (inFlight / KNEE) ** 2);
  return new Promise((resolve) => {
    setTimeout(() => {
      inFlight--;
      resolve();
    }, ms);
  });
}

const { default: express } = await import('express');
const { concurrencyLimit } = await import('@doorman/express');
const app = express();
app.disable('x-powered-by');
app.disable('etag');

// How long the quiet tenants' requests wait for a permit, in the server: from
// the first middleware (in front of the limiter) to the handler.
const quietWaits = [];
const arrivedAt = Symbol('arrivedAt');
app.use((req, _res, next) => {
  if (req.headers['x-tenant'] !== 'flood') req[arrivedAt] = performance.now();
  next();
});

const common = { limit: 10, maxQueue: 50, queueTimeoutMs: 500, name: 'fairness' };
const tenantOf = (req) => req.get('x-tenant') ?? 'anonymous';
if (variant === 'global') app.use(concurrencyLimit(common));
else if (variant === 'fair')
  app.use(concurrencyLimit({ ...common, key: tenantOf, totalLimit: 10 }));
else throw new Error(`unknown variant ${variant}`);
app.get('/', async (req, res) => {
  if (req[arrivedAt] !== undefined) quietWaits.push(performance.now() - req[arrivedAt]);
  await backend();
  res.end('ok\n');
});

process.on('message', (msg) => {
  if (msg.cmd === 'reset') {
    peakInFlight = inFlight;
    quietWaits.length = 0;
  }
  process.send({ id: msg.id, peakInFlight, inFlight, quietWaits });
});
process.on('disconnect', () => process.exit(0));
const server = createServer(app);
server.keepAliveTimeout = 60_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.send({ port: server.address().port });
});
