// One server of the adaptive benchmark, run in its own process by run.mjs:
//
//   node server.mjs <variant> <phases>
//
// variant: none | fixed-10 | fixed-50 | gradient2 | aimd | vegas
// phases:  capacities and length, e.g. "10,25,5@10000" (best concurrency of
//          the backend in each phase, phase length in ms)
//
// The backend's capacity steps through the phases, counted from the first
// request after `arm`. It sends { port } over IPC once listening, then answers
// { id, cmd } messages: `arm` starts the phase clock at the next request,
// `stats` returns the limit trace (sampled every 50 ms), the phase start
// (epoch ms), and the event-loop delay.
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const variant = process.argv[2];
const [capacityList, phaseMsText] = (process.argv[3] ?? '10,25,5@10000').split('@');
const capacities = capacityList.split(',').map(Number);
const phaseMs = Number(phaseMsText);

// ---- the simulated backend: 20 ms at up to C in flight, 20 ms x (n / C)^2 beyond
const BASE_MS = 20;
let inFlight = 0;
let startedAt = -1; // performance.now() of the first request after arm
let armed = false;
function capacityNow() {
  if (startedAt < 0) return capacities[0];
  const phase = Math.floor((performance.now() - startedAt) / phaseMs);
  return capacities[Math.min(capacities.length - 1, Math.max(0, phase))];
}
function backend() {
  inFlight++;
  const ms = BASE_MS * Math.max(1, (inFlight / capacityNow()) ** 2);
  return new Promise((resolve) => {
    setTimeout(() => {
      inFlight--;
      resolve();
    }, ms);
  });
}

// ---- the app
const { default: express } = await import('express');
const fromDist = (name) => {
  const path = process.env[`DOORMAN_${name.toUpperCase()}`];
  return import(path === undefined ? `@doorman/${name}` : pathToFileURL(path).href);
};
const { concurrencyLimit } = await fromDist('express');
const app = express();
app.disable('x-powered-by');
app.disable('etag');

// The same bounded queue for every limiter: at most 50 waiting, none longer than 250 ms.
const queue = { maxQueue: 50, queueTimeoutMs: 250 };
let limiter = null;
if (variant.startsWith('fixed-')) {
  const middleware = concurrencyLimit({ limit: Number(variant.slice(6)), ...queue });
  limiter = middleware.limiter;
  app.use(middleware);
} else if (variant !== 'none') {
  const { AdaptiveSemaphore } = await fromDist('adaptive');
  limiter = new AdaptiveSemaphore({
    initialLimit: 20,
    minLimit: 1,
    maxLimit: 200,
    algorithm: variant,
    name: 'bench',
    ...queue,
  });
  app.use(concurrencyLimit({ limiter }));
}
app.get('/', async (_req, res) => {
  await backend();
  res.end('ok\n');
});

// ---- what the runner reads
// [ms since start, limit, inUse, waiting, backend inFlight, capacity, minLatencyMs, latencyMs]
const trace = [];
let sampler;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
function sample() {
  trace.push([
    Math.round(performance.now() - startedAt),
    limiter?.limit ?? null,
    limiter?.inUse ?? inFlight,
    limiter?.waiting ?? 0,
    inFlight,
    capacityNow(),
    limiter?.minLatencyMs ?? null,
    limiter?.latencyMs ?? null,
  ]);
}

const server = createServer(app);
server.on('request', () => {
  if (armed && startedAt < 0) {
    startedAt = performance.now();
    loopDelay.reset();
    sample();
    sampler = setInterval(sample, 50);
  }
});

process.on('message', (msg) => {
  let reply;
  if (msg.cmd === 'arm') {
    armed = true;
    startedAt = -1;
    trace.length = 0;
    reply = { ok: true };
  } else if (msg.cmd === 'stats') {
    clearInterval(sampler);
    reply = {
      startEpochMs: startedAt < 0 ? null : performance.timeOrigin + startedAt,
      trace,
      loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6 },
      minLatencyMs: limiter?.minLatencyMs ?? null,
      counters: limiter?.counters ?? null,
    };
  } else {
    reply = { error: `unknown command ${msg.cmd}` };
  }
  process.send({ id: msg.id, ...reply });
});
process.on('disconnect', () => process.exit(0));

server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.send({ port: server.address().port });
});
