// Overload: what a concurrency limit does for a server whose backend thrashes
// past 10 concurrent calls (20 ms each at up to 10 in flight, 20 ms x (n/10)^2
// beyond: 500 calls/s at best, 100/s at 50 in flight). Open-loop arrivals at
// 1x, 2x and 5x that capacity, against seven servers, each in a fresh child
// process on its own core: Express with no limiter, express-queue, doorman
// (FIFO), doorman (LIFO), doorman's guard in front of Express, and two floors
// that answer 503 at once with no limiter at all (from Express, and from a
// bare node:http listener). Then short closed-loop runs measure the server's
// CPU time per rejection and per admission (Express, the guard, Fastify), and
// the middleware alone on Node's own request and response (middleware.mjs).
// doorman is loaded from its built packages (dist), copied aside.
//
//   pnpm bench overload [--quick] [--duration 10] [--rates 1,2,5] [--no-write] ...
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gitCommit } from '../git-commit.mjs';
import { hasPackage, snapshotPackages } from '../snapshot.mjs';
import { burst, openLoop } from './load.mjs';
import { plotOverload } from './plot.mjs';
import { byClass, median, summarize } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = dirname(here);
const repoRoot = dirname(benchDir);
const serverEntry = join(here, 'server.mjs');

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string' },
    rates: { type: 'string' },
    servers: { type: 'string' },
    'cpu-requests': { type: 'string' },
    'cpu-rounds': { type: 'string' },
    'no-cpu': { type: 'boolean', default: false },
    'cpu-only': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    out: { type: 'string' },
    'max-minutes': { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`pnpm bench overload [options]

  --duration S        seconds of load per (rate, server) (default 10; --quick: 2)
  --rates LIST        offered load as multiples of the backend's 500/s (default 1,2,5)
  --servers LIST      any of none,express-queue,doorman,doorman-lifo,guard,floor,
                      floor-node (default all)
  --cpu-requests N    requests per CPU-cost run (default 10000; --quick: 3000)
  --cpu-rounds N      interleaved rounds of CPU-cost runs, median reported (default 3; --quick: 1)
  --no-cpu            skip the CPU-cost runs (the README's CPU block stays as it is)
  --cpu-only          only the CPU-cost runs (the open-loop block stays as it is)
  --no-pin            do not pin the server (core 1) and the load generator (core 0)
  --no-build          use packages/*/dist as they are
  --max-minutes M     stop (and fail) if the run takes longer (default: from the plan)
  --out DIR           write overload.json and overload.svg there, and leave README.md alone
  --no-write          print the tables only; write nothing
  --quick             a short smoke run (2 s per cell, a shorter warm-up, fewer CPU
                      requests, one round; about half the time of the full run); writes
                      nothing unless --out is given
`);
  process.exit(0);
}

const CAPACITY = 500; // backend calls per second at its best (10 in flight x 20 ms)
const TIMEOUT_S = 10;
const quick = opts.quick;
const duration = Number(opts.duration ?? (quick ? 2 : 10));
const multiples = (opts.rates ?? '1,2,5').split(',').map(Number);
const ALL_SERVERS = [
  'none',
  'express-queue',
  'doorman',
  'doorman-lifo',
  'guard',
  'floor',
  'floor-node',
];
const serverNames = opts.servers ? opts.servers.split(',') : ALL_SERVERS;
for (const s of serverNames) {
  if (!ALL_SERVERS.includes(s)) throw new Error(`unknown server ${s}`);
}
const cpuRequests = Number(opts['cpu-requests'] ?? (quick ? 3000 : 10000));
const cpuRounds = Number(opts['cpu-rounds'] ?? (quick ? 1 : 3));
const write = !opts['no-write'] && (!quick || opts.out !== undefined);
const outDir = opts.out ?? join(benchDir, 'results');
const started = performance.now();
const log = (line) => process.stderr.write(`${line}\n`);

const LABELS = {
  none: 'no limiter',
  'express-queue': 'express-queue',
  doorman: 'doorman (FIFO)',
  'doorman-lifo': 'doorman (LIFO)',
  guard: 'doorman guard (FIFO)',
  floor: 'floor: 503 at once',
  'floor-node': 'floor: node:http 503',
};
const CONFIG = {
  none: 'handler → backend',
  'express-queue': '`queue({ activeLimit: 10, queuedLimit: 50 })`',
  doorman: '`concurrencyLimit({ limit: 10, maxQueue: 50, queueTimeoutMs: 500 })`',
  'doorman-lifo': "the same with `order: 'lifo'`",
  guard:
    '`createServer(guard({ limit: 10, maxQueue: 50, queueTimeoutMs: 500 }, app))`: the limit in front of the Express app',
  floor:
    'an Express middleware that writes doorman’s 503 headers (`setHeader`, `end`) and nothing else',
  'floor-node':
    'no Express: a node:http listener that writes the same 503 with one `writeHead` and one `end`, the cheapest way there is',
};

// ---- pinning: the server on core 1, this process (the load generator) on core 0
const hasTaskset = spawnSync('taskset', ['-c', '1', 'true']).status === 0;
const pin = !opts['no-pin'] && hasTaskset && cpus().length >= 2;
if (pin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

// Every server is a child of this process: none outlives it, whatever ends
// the run, and the run stops by itself if something hangs.
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`overload: ${signal}, stopping`);
    process.exit(130);
  });
}

// A bound on the whole run, from its plan: about 20 s per cell besides the
// load, and a few minutes for the build and the CPU runs, with room to spare.
const maxMinutes = Number(
  opts['max-minutes'] ??
    Math.ceil(
      (2 * multiples.length * serverNames.length * (duration + 25) +
        (opts['no-cpu'] ? 0 : 20 * 15 * cpuRounds) +
        300) /
        60,
    ),
);
setTimeout(() => {
  log(`overload: still running after ${maxMinutes} minutes (--max-minutes); stopping`);
  process.exit(1);
}, maxMinutes * 60_000).unref();

// Users run the built packages (dist), copied aside for the run (see snapshot.mjs).
const withFastify = hasPackage('fastify');
const snapshot = await snapshotPackages(
  withFastify ? ['express', 'http', 'fastify'] : ['express', 'http'],
  { build: !opts['no-build'], log },
);
const srcChanged = (() => {
  try {
    return (
      execFileSync(
        'git',
        [
          'status',
          '--porcelain',
          '--',
          ...['semaphore', 'http', 'express', 'fastify'].map((p) => `packages/${p}/src`),
        ],
        { cwd: repoRoot },
      )
        .toString()
        .trim() !== ''
    );
  } catch {
    return false;
  }
})();

// ---- server processes
async function startServer(variant, extra = []) {
  const args = [serverEntry, variant, ...extra];
  const options = {
    cwd: benchDir,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, DOORMAN_PACKAGES: snapshot.dir },
  };
  const child = pin
    ? spawn('taskset', ['-c', '1', process.execPath, ...args], options)
    : spawn(process.execPath, args, options);
  children.add(child);
  child.on('exit', () => children.delete(child));
  const [hello] = await once(child, 'message');
  let nextId = 0;
  const pending = new Map();
  child.on('message', (msg) => {
    const resolve = pending.get(msg.id);
    if (resolve !== undefined) {
      pending.delete(msg.id);
      resolve(msg);
    }
  });
  const ask = (cmd) =>
    new Promise((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      child.send({ id, cmd });
    });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  };
  return { variant, child, url: `http://127.0.0.1:${hello.port}/`, ask, stop };
}

const round = (v, digits = 1) => (v == null ? null : Number(v.toFixed(digits)));

// ---- the overload runs
async function overloadRun(variant, multiple) {
  const offered = multiple * CAPACITY;
  const server = await startServer(variant);
  try {
    // Warm-up: enough of a crowd to queue and shed, so that those paths are
    // compiled too; the unlimited server gets 10 at a time (its best), as a
    // crowd would bury it. Then wait for the backend to drain.
    await burst(
      server.url,
      variant === 'none'
        ? { amount: 400, connections: 10 }
        : { amount: quick ? 1000 : 3000, connections: 100 },
    );
    for (let i = 0; i < 50; i++) {
      const s = await server.ask('stats');
      if (s.backend.inFlight === 0 && (s.limiter === null || s.limiter.inUse === 0)) break;
      await sleep(100);
    }
    await server.ask('reset');
    let stats;
    const load = await openLoop(server.url, {
      rate: offered,
      duration,
      timeout: TIMEOUT_S,
      // Read before autocannon closes its connections: a closed connection
      // releases the permit of a request still at the backend.
      atEnd: async () => {
        stats = await server.ask('stats');
      },
    });
    const ok = summarize(load.ok);
    const all503 = summarize(Object.values(load.rejected).flat());
    const otherCount = Object.values(load.other).reduce((a, b) => a + b, 0);
    const responses = ok.count + all503.count + otherCount;
    const cpuUs = stats.cpuUserUs + stats.cpuSystemUs;
    return {
      server: variant,
      multiple,
      offered,
      connections: load.connections,
      sent: load.sent,
      sentPerS: load.sent / duration,
      arrivedPerS: stats.arrivals / duration,
      goodput: ok.count / duration,
      ok,
      rejected: {
        ...all503,
        share: responses === 0 ? 0 : all503.count / responses,
        ...byClass(new Map(Object.entries(load.rejected))),
      },
      otherStatuses: load.other,
      timeouts: load.timeouts,
      errors: load.errors,
      unanswered: Math.max(0, load.sent - responses - load.timeouts - load.errors),
      server503: stats.reject,
      server2xx: stats.ok,
      rssMaxMB: stats.rssMaxBytes / 2 ** 20,
      serverCpuPct: (cpuUs / 1000 / stats.windowMs) * 100,
      loopDelayMs: stats.loopDelayMs,
      gc: stats.gc,
      backendPeakInFlight: stats.backend.peakInFlight,
      limiterCounters: stats.limiter?.counters ?? null,
    };
  } finally {
    await server.stop();
  }
}

const loadAvgStart = loadavg();
const rows = [];
for (const [i, multiple] of (opts['cpu-only'] ? [] : multiples).entries()) {
  // Alternate the order between rates so no server always goes first.
  const order = i % 2 === 0 ? serverNames : [...serverNames].reverse();
  for (const variant of order) {
    const row = await overloadRun(variant, multiple);
    rows.push(row);
    log(
      `${multiple}x ${variant}: sent ${Math.round(row.sentPerS)}/s, goodput ${Math.round(row.goodput)}/s, ` +
        `2xx p99 ${row.ok.p99?.toFixed(0) ?? '–'} ms, 503 ${(row.rejected.share * 100).toFixed(0)}% ` +
        `(shed at once: client p99 ${row.rejected.atOnce.p99?.toFixed(1) ?? '–'} ms, server p99 ${row.server503.atOnce.p99?.toFixed(2) ?? '–'} ms; ` +
        `queue timeouts ${row.rejected.queueTimeout.count}), backend peak ${row.backendPeakInFlight}, ` +
        `timeouts ${row.timeouts}, unanswered ${row.unanswered}, RSS ${row.rssMaxMB.toFixed(0)} MB, loop delay p99 ${row.loopDelayMs.p99.toFixed(0)} ms`,
    );
  }
}

// ---- CPU per rejection and per admission
// [variant, label, setup, expected status, group]
const CPU_VARIANTS = [
  ['cpu-none', 'Express, no limiter: handler answers at once', 'Express and Node’s HTTP only', 200],
  ['cpu-admit', 'Express + doorman middleware: admission', 'a limit never reached', 200],
  [
    'cpu-reject',
    'Express + doorman middleware: rejection',
    'limit 1 held by a request, `maxQueue: 0`',
    503,
  ],
  [
    'cpu-floor',
    'Express writes the 503 itself',
    'doorman’s 503 headers from a bare middleware, no limiter',
    503,
  ],
  ['cpu-guard-admit', 'guard in front of Express: admission', 'a limit never reached', 200],
  [
    'cpu-guard-reject',
    'guard in front of Express: rejection',
    'limit 1 held by a request, `maxQueue: 0`',
    503,
  ],
  [
    'cpu-node-floor',
    'node:http writes the 503 (floor)',
    'one `writeHead`, one `end`; no framework, no limiter',
    503,
  ],
  ['cpu-eq-admit', 'Express + express-queue: admission', 'a limit never reached', 200],
  ['cpu-eq-reject', 'Express + express-queue: rejection', 'activeLimit 1 held, queuedLimit 0', 503],
  [
    'cpu-fastify-none',
    'Fastify, no limiter: handler answers at once',
    'Fastify and Node’s HTTP only',
    200,
  ],
  ...(withFastify
    ? [
        ['cpu-fastify-admit', 'Fastify + doorman hook: admission', 'a limit never reached', 200],
        [
          'cpu-fastify-reject',
          'Fastify + doorman hook: rejection',
          'limit 1 held by a request, `maxQueue: 0`',
          503,
        ],
      ]
    : []),
  [
    'cpu-fastify-floor',
    'Fastify writes the 503 itself',
    'an `onRequest` hook replies doorman’s 503 headers, no limiter',
    503,
  ],
];
function holdPermit(url) {
  const req = get(`${url}hold`, { agent: false });
  req.on('error', () => {});
  return req;
}
const cpu = [];
if (!opts['no-cpu']) {
  const servers = [];
  try {
    for (const [variant] of CPU_VARIANTS) {
      const server = await startServer(variant, ['--no-instrument']);
      servers.push(server);
      if (variant.endsWith('reject')) {
        holdPermit(server.url);
        await sleep(200);
      }
    }
    const samples = new Map(servers.map((s) => [s.variant, []]));
    for (const server of servers) {
      await burst(server.url, { amount: Math.min(3000, cpuRequests), connections: 32 });
    }
    for (let r = 0; r < cpuRounds; r++) {
      // The order rotates from round to round, so no server always follows the same one.
      const shift = r % servers.length;
      const order = servers.slice(shift).concat(servers.slice(0, shift));
      for (const server of order) {
        await server.ask('reset');
        const result = await burst(server.url, { amount: cpuRequests, connections: 32 });
        const stats = await server.ask('stats');
        const expected = CPU_VARIANTS.find(([v]) => v === server.variant)[3];
        const right = result.statuses[expected] ?? 0;
        if (right !== stats.arrivals || result.errors > 0) {
          throw new Error(
            `${server.variant}: expected ${stats.arrivals} × ${expected}, got ${JSON.stringify(result.statuses)}, ${result.errors} errors`,
          );
        }
        samples.get(server.variant).push((stats.cpuUserUs + stats.cpuSystemUs) / stats.arrivals);
      }
    }
    // Who spends it: one more run each under V8's sampling profiler.
    const owners = new Map();
    for (const server of servers) {
      await server.ask('profile-start');
      await burst(server.url, { amount: cpuRequests, connections: 32 });
      const { byOwner } = await server.ask('profile-stop');
      const total = Object.values(byOwner).reduce((a, b) => a + b, 0);
      owners.set(
        server.variant,
        Object.fromEntries(Object.entries(byOwner).map(([k, v]) => [k, v / total])),
      );
    }
    for (const [variant, label, how] of CPU_VARIANTS) {
      const s = samples.get(variant);
      const share = owners.get(variant);
      const limiterShare = (share.doorman ?? 0) + (share['express-queue'] ?? 0);
      cpu.push({
        variant,
        label,
        how,
        usPerRequest: median(s),
        samples: s,
        profileShare: share,
        limiterUs: limiterShare * median(s),
      });
      log(
        `cpu ${variant}: ${median(s).toFixed(1)} µs/request (${s.map((x) => x.toFixed(1)).join(', ')}); ` +
          `limiter code ${(limiterShare * 100).toFixed(1)}%, framework ${((share.framework ?? 0) * 100).toFixed(1)}%, ` +
          `Node ${((share.node ?? 0) * 100).toFixed(1)}%, GC ${((share.gc ?? 0) * 100).toFixed(1)}%`,
      );
    }
  } finally {
    for (const server of servers) await server.stop();
  }
}
// The middleware alone, on Node's request and response over a stand-in socket (no HTTP).
let middlewareOnly = null;
if (!opts['no-cpu']) {
  const command = [
    process.execPath,
    join(here, 'middleware.mjs'),
    snapshot.dir,
    ...(quick ? ['--quick'] : []),
  ];
  const r = pin
    ? spawnSync('taskset', ['-c', '1', ...command], { encoding: 'utf8', timeout: 300_000 })
    : spawnSync(command[0], command.slice(1), { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`middleware.mjs failed: ${r.stderr || r.signal}`);
  middlewareOnly = JSON.parse(r.stdout);
  log(
    `middleware alone: ${JSON.stringify(middlewareOnly.cases)}; added: ${JSON.stringify(middlewareOnly.added)}`,
  );
}
const loadAvgEnd = loadavg();
const durationS = Math.round((performance.now() - started) / 1000);

// ---- targets
const row = (variant, multiple) =>
  rows.find((r) => r.server === variant && r.multiple === multiple);
const ms = (v, d = 1) => (v == null ? '–' : v.toFixed(d));
const loadTargets = [];
const cpuTargets = [];
for (const variant of ['doorman', 'doorman-lifo']) {
  for (const multiple of [2, 5]) {
    const r = row(variant, multiple);
    if (r === undefined) continue;
    loadTargets.push({
      target: `${LABELS[variant]} at ${multiple}x: goodput ≥ ${0.9 * CAPACITY}/s and 2xx p99 < 200 ms`,
      met: r.goodput >= 0.9 * CAPACITY && r.ok.p99 != null && r.ok.p99 < 200,
      measured: `${Math.round(r.goodput)}/s, p99 ${ms(r.ok.p99, 0)} ms`,
    });
  }
}
for (const multiple of [2, 5]) {
  const r = row('none', multiple);
  if (r === undefined) continue;
  loadTargets.push({
    target: `no limiter at ${multiple}x collapses (goodput < half the capacity)`,
    met: r.goodput < CAPACITY / 2,
    measured: `${Math.round(r.goodput)}/s, 2xx p99 ${ms(r.ok.p99, 0)} ms, ${r.timeouts} timeouts`,
  });
}
for (const variant of ['doorman', 'doorman-lifo', 'guard']) {
  const withRejections = rows.filter((r) => r.server === variant && r.server503.atOnce.count > 0);
  if (withRejections.length === 0) continue;
  const worst = Math.max(...withRejections.map((r) => r.server503.atOnce.p99));
  loadTargets.push({
    target: `${LABELS[variant]}: each rejection (shed at once) written within 5 ms of its arrival, p99 in the server, at every rate`,
    met: worst < 5,
    measured: withRejections
      .map((r) => {
        const f = row('floor', r.multiple)?.server503.atOnce.p99;
        return `${r.multiple}x ${ms(r.server503.atOnce.p99, 2)} ms${f == null ? '' : ` (floor ${ms(f, 2)} ms)`}`;
      })
      .join(', '),
  });
}
for (const variant of ['doorman', 'doorman-lifo', 'guard', 'express-queue']) {
  const pairs = rows
    .filter((r) => r.server === variant && r.rejected.atOnce.count > 0)
    .map((r) => [r, row('floor', r.multiple)])
    .filter(([, f]) => f !== undefined);
  if (pairs.length === 0) continue;
  loadTargets.push({
    target: `${LABELS[variant]}: 503 p99 at the client, next to the floor’s (no threshold)`,
    met: null,
    measured: pairs
      .map(
        ([r, f]) =>
          `${r.multiple}x ${ms(r.rejected.atOnce.p99)} vs ${ms(f.rejected.atOnce.p99)} ms`,
      )
      .join(', '),
  });
}
{
  // The guard's 503s at the client next to the bare node:http server's, at 5x (issue 9).
  const g = row('guard', 5);
  const f = row('floor-node', 5);
  if (g !== undefined && f !== undefined && g.rejected.atOnce.count > 0) {
    const gap = g.rejected.atOnce.p99 - f.rejected.atOnce.p99;
    loadTargets.push({
      target: 'doorman guard at 5x: 503 p99 at the client within 2 ms of the node:http floor’s',
      met: gap <= 2,
      measured: `${ms(g.rejected.atOnce.p99)} vs ${ms(f.rejected.atOnce.p99)} ms (${gap >= 0 ? '+' : ''}${ms(gap)} ms)`,
    });
  }
}
const cpuOf = (v) => cpu.find((c) => c.variant === v)?.usPerRequest;
const limiterUsOf = (v) => cpu.find((c) => c.variant === v)?.limiterUs;
const us = (v) => `${v.toFixed(1)} µs`;
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
if (cpu.length > 0) {
  const rej = cpuOf('cpu-reject');
  const adm = cpuOf('cpu-admit');
  const grej = cpuOf('cpu-guard-reject');
  const none = cpuOf('cpu-none');
  const nodeFloor = cpuOf('cpu-node-floor');
  const floor = cpuOf('cpu-floor');
  cpuTargets.push(
    {
      target: 'a guard rejection costs at most 0.5x an admitted Express request',
      met: grej <= 0.5 * adm,
      measured: `${us(grej)} vs ${us(adm)} (${ratio(grej, adm)}); vs Express with no limiter ${us(none)} (${ratio(grej, none)})`,
    },
    {
      target: 'a guard rejection costs at most 1.25x a bare node:http 503',
      met: grej <= 1.25 * nodeFloor,
      measured: `${us(grej)} vs ${us(nodeFloor)} (${ratio(grej, nodeFloor)}); doorman’s own code (profiler) ${us(limiterUsOf('cpu-guard-reject'))}`,
    },
    {
      target: 'an Express-middleware rejection costs at most 1.15x Express writing the 503 itself',
      met: rej <= 1.15 * floor,
      measured: `${us(rej)} vs ${us(floor)} (${ratio(rej, floor)}); doorman’s own code (profiler) ${us(limiterUsOf('cpu-reject'))}`,
    },
    {
      target: 'an Express-middleware rejection costs at most half an admitted request (issue 4)',
      met: rej <= adm / 2,
      measured: `${us(rej)} vs ${us(adm)} (${ratio(rej, adm)})`,
    },
  );
  const frej = cpuOf('cpu-fastify-reject');
  if (frej !== undefined) {
    const ffloor = cpuOf('cpu-fastify-floor');
    const fadm = cpuOf('cpu-fastify-admit');
    cpuTargets.push({
      target:
        'Fastify hook rejection, next to Fastify writing the 503 itself and to an admission (no threshold)',
      met: null,
      measured: `${us(frej)} vs ${us(ffloor)} (${ratio(frej, ffloor)}); admission ${us(fadm)} (${ratio(frej, fadm)})`,
    });
  }
}
if (middlewareOnly !== null) {
  const added = middlewareOnly.added;
  for (const [name, label] of [
    ['express-reject', 'Express middleware'],
    ['guard-reject', 'guard'],
    ['fastify-reject', 'Fastify hook'],
  ]) {
    if (added[name] == null) continue;
    cpuTargets.push({
      target: `the ${label} alone: at most 1 µs per rejection (over writing the same 503 directly)`,
      met: added[name] <= 1,
      measured: `${added[name].toFixed(2)} µs (${middlewareOnly.cases[name].toFixed(2)} µs with the request, response and 503)`,
    });
  }
}

// ---- report
const commit = gitCommit(repoRoot);
const machine = {
  cpu: cpus()[0]?.model ?? 'cpu',
  cpus: cpus().length,
  memGiB: Math.round(totalmem() / 2 ** 30),
  os: `${platform()} ${release()}`,
  node: process.version,
  date: new Date().toISOString(),
  commit,
  srcChanged,
  pinned: pin,
  loadAvgStart: loadAvgStart.map((v) => round(v, 2)),
  loadAvgEnd: loadAvgEnd.map((v) => round(v, 2)),
};
const config = {
  capacity: CAPACITY,
  backend: '20 ms × max(1, (in flight / 10)²), fixed at call start',
  duration,
  multiples,
  connections: 'one per request per second (= the offered rate)',
  clientTimeoutS: TIMEOUT_S,
  cpuRequests,
  cpuRounds,
  quick,
};

const md = [];
const ranLoad = rows.length > 0;
if (loadAvgStart[0] > machine.cpus || loadAvgEnd[0] > machine.cpus) {
  md.push(
    `**The machine was busy with other work during this run** (load average ${loadAvgStart[0].toFixed(1)} at start and ${loadAvgEnd[0].toFixed(1)} at end, on ${machine.cpus} CPUs): the servers and the load generator waited for a CPU, which shows as event-loop delay and long GC pauses in the server, and as a sent rate below the offered one. Read the numbers as this machine’s, not the libraries’.`,
    '',
  );
}
const machineLine =
  `Machine: ${machine.cpu}, ${machine.cpus} CPUs, ${machine.memGiB} GiB, ${machine.os}; Node ${machine.node}; ${machine.date.slice(0, 16).replace('T', ' ')} UTC; commit ${commit}${srcChanged ? ' (with uncommitted changes in doorman’s package sources)' : ''}; ` +
  `${pin ? 'server pinned to core 1, load generator to core 0' : 'not pinned'}; load average ${loadAvgStart.map((v) => v.toFixed(2)).join(' / ')} at start, ${loadAvgEnd.map((v) => v.toFixed(2)).join(' / ')} at end. ` +
  `${ranLoad ? `${duration} s of load per cell` : 'CPU runs only'}${quick ? ' (quick form)' : ''}; the whole run took ${durationS} s.`;
md.push(
  machineLine,
  '',
  '![Goodput and 2xx p99 against offered load](results/overload.svg)',
  '',
  '#### Goodput and latency at the client',
  '',
  '| offered | server | sent/s | goodput (2xx/s) | 2xx p50 ms | 2xx p99 ms | 503 share | 503 p99 ms | timeouts | errors | peak RSS MB |',
  '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
);
for (const r of rows) {
  md.push(
    `| ${r.multiple}x (${r.offered}/s) | ${LABELS[r.server]} | ${Math.round(r.sentPerS)} | ${Math.round(r.goodput)} | ${ms(r.ok.p50, 0)} | ${ms(r.ok.p99, 0)} | ${(r.rejected.share * 100).toFixed(1)}% | ${ms(r.rejected.p99)} | ${r.timeouts} | ${r.errors} | ${r.rssMaxMB.toFixed(0)} |`,
  );
}
md.push(
  '',
  '#### Rejections: how fast a turned-away request is answered',
  '',
  'In the server: from its `request` event to the 503’s `finish`. Shed at once: the queue was full (doorman’s `QUEUE_FULL`; express-queue and the floor only ever shed at once). Queue timeouts waited `queueTimeoutMs` (500 ms) first, by design.',
  '',
  '| offered | server | shed at once | in server p50 / p99 / max ms | at the client p50 / p99 ms | queue timeouts | queue timeout at the client p50 / p99 ms |',
  '|---|---|--:|--:|--:|--:|--:|',
);
for (const r of rows) {
  if (r.rejected.count === 0 && r.server503.atOnce.count === 0) continue;
  const s5 = r.server503.atOnce;
  const c5 = r.rejected.atOnce;
  const qt = r.rejected.queueTimeout;
  md.push(
    `| ${r.multiple}x | ${LABELS[r.server]} | ${c5.count} | ${ms(s5.p50, 2)} / ${ms(s5.p99, 2)} / ${ms(s5.max)} | ${ms(c5.p50)} / ${ms(c5.p99)} | ${qt.count} | ${ms(qt.p50, 0)} / ${ms(qt.p99, 0)} |`,
  );
}
md.push(
  '',
  '#### Inside the server',
  '',
  'Backend peak: most calls in flight at once. Server CPU: CPU time over the whole run (1 s of connecting, the load, 1 s of grace) as a share of one core. Unanswered: sent, but neither answered nor timed out 1 s after the load stopped.',
  '',
  '| offered | server | backend peak in flight | server CPU | event-loop delay p99 / max ms | longest GC pause ms | unanswered |',
  '|---|---|--:|--:|--:|--:|--:|',
);
for (const r of rows) {
  md.push(
    `| ${r.multiple}x | ${LABELS[r.server]} | ${r.backendPeakInFlight} | ${r.serverCpuPct.toFixed(0)}% | ${ms(r.loopDelayMs?.p99)} / ${ms(r.loopDelayMs?.max)} | ${ms(r.gc.maxMs)} | ${r.unanswered} |`,
  );
}
md.push(
  '',
  '#### Targets',
  '',
  '| target | met | measured |',
  '|---|---|---|',
  ...targetRows(loadTargets),
  '',
);
const mdCpu = [];
if (loadAvgStart[0] > machine.cpus || loadAvgEnd[0] > machine.cpus) {
  mdCpu.push(
    `The machine was busy with other work during this run (load average ${loadAvgStart[0].toFixed(1)} at start and ${loadAvgEnd[0].toFixed(1)} at end, on ${machine.cpus} CPUs). CPU time is counted per process, so other work inflates it less than wall time, but it still shares caches and cores with this run.`,
    '',
  );
}
mdCpu.push(machineLine);
if (cpu.length > 0) {
  mdCpu.push(
    '',
    `#### CPU time per request (server process, \`process.cpuUsage\`; median of ${cpuRounds} × ${cpuRequests} requests over 32 keep-alive connections)`,
    '',
    'Every server is its own process, pinned like the others, and answers at once (no backend). The shares come from one more run each under V8’s sampling profiler: self time of the limiter’s own code (doorman’s packages, or express-queue and its two dependencies), of the framework (Express or Fastify and their dependencies), of Node (its JavaScript, native code: HTTP parsing, socket writes) and of garbage collection.',
    '',
    '| request | setup | CPU µs/request | vs Express + doorman admission | limiter code | framework | Node | GC |',
    '|---|---|--:|--:|--:|--:|--:|--:|',
  );
  const adm = cpuOf('cpu-admit');
  const pct = (v) => `${((v ?? 0) * 100).toFixed(1)}%`;
  for (const c of cpu) {
    const sh = c.profileShare;
    const limiter = (sh.doorman ?? 0) + (sh['express-queue'] ?? 0);
    mdCpu.push(
      `| ${c.label} | ${c.how} | ${c.usPerRequest.toFixed(1)} <sub>${Math.min(...c.samples).toFixed(1)}–${Math.max(...c.samples).toFixed(1)}</sub> | ${(c.usPerRequest / adm).toFixed(2)}x | ${limiter === 0 ? '–' : `${pct(limiter)} (${c.limiterUs.toFixed(1)} µs)`} | ${pct(sh.framework)} | ${pct((sh.node ?? 0) + (sh.bench ?? 0))} | ${pct(sh.gc)} |`,
    );
  }
}
if (middlewareOnly !== null) {
  const m = middlewareOnly;
  const line = (name, label, baseline) =>
    m.cases[name] === undefined
      ? []
      : [
          `| ${label} | ${m.cases[name].toFixed(2)} | ${m.added[name] === undefined ? '–' : `${m.added[name].toFixed(2)} (over ${baseline})`} |`,
        ];
  mdCpu.push(
    '',
    '#### The middleware alone (no HTTP parsing, no network)',
    '',
    `Each call gets Node’s own \`IncomingMessage\` and \`ServerResponse\` over a stand-in socket that takes every write (its callback on the next tick), and what Node’s server does once a response finishes (dump the request, detach the socket, \`close\` on the next tick) is done the same way, so the middleware meets what it meets in a server. Batches of 1,000 calls, the cases interleaved batch by batch; CPU time per call, median of ${m.rounds} rounds of ${m.calls}. The last column is what the middleware adds to writing the same response directly, the median over rounds of the difference within each round: doorman’s own cost. Fastify’s hook needs Fastify’s request and reply, so it runs inside a Fastify app fed the same objects, against the same app with a hook that writes the 503 itself (rejection) or an empty hook (admission).`,
    '',
    '| call | µs per call | µs added by doorman |',
    '|---|--:|--:|',
    ...line(
      'express-reject',
      'Express middleware: rejection (limit 1 held, `maxQueue: 0`)',
      'the direct 503',
    ),
    ...line(
      'express-admit',
      'Express middleware: admission, then the handler answers',
      'answering directly',
    ),
    ...line('guard-reject', 'guard: rejection (limit 1 held, `maxQueue: 0`)', 'the direct 503'),
    ...line('guard-admit', 'guard: admission, then the listener answers', 'answering directly'),
    ...line('direct-503', 'the same 503 written directly (`writeHead`, `end`)', ''),
    ...line('direct-200', 'answering directly (`end`), no middleware', ''),
    ...line('fastify-reject', 'Fastify app + doorman hook: rejection', 'the app with a 503 hook'),
    ...line('fastify-admit', 'Fastify app + doorman hook: admission', 'the app with an empty hook'),
    ...line('fastify-503-hook', 'Fastify app, a hook replies the 503 itself', ''),
    ...line('fastify-empty-hook', 'Fastify app, an empty hook, the handler answers', ''),
  );
}
mdCpu.push(
  '',
  '#### Targets',
  '',
  '| target | met | measured |',
  '|---|---|---|',
  ...targetRows(cpuTargets),
  '',
);
const markdown = md.join('\n');
const markdownCpu = mdCpu.join('\n');
if (ranLoad) process.stdout.write(`\n${markdown}\n`);
if (cpu.length > 0) process.stdout.write(`\n${markdownCpu}\n`);

// The open-loop runs and the CPU runs each replace their own part of the
// results, so that `--cpu-only` or `--no-cpu` keeps the other part.
let previous = {};
try {
  previous = JSON.parse(readFileSync(join(outDir, 'overload.json'), 'utf8'));
} catch {}
const doc = {
  ...previous,
  ...(ranLoad
    ? { machine, config, durationS, rows, loadTargets, labels: LABELS, setups: CONFIG }
    : {}),
  ...(cpu.length > 0 ? { cpuMachine: machine, cpu, middlewareOnly, cpuTargets } : {}),
};
delete doc.targets;

if (write) {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'overload.json'), `${JSON.stringify(doc, null, 2)}\n`);
  if (ranLoad) writeFileSync(join(outDir, 'overload.svg'), plotOverload(doc));
  if (opts.out === undefined) {
    const readme = join(benchDir, 'README.md');
    if (ranLoad) updateReadme(readme, 'overload-results', markdown);
    if (cpu.length > 0) updateReadme(readme, 'overload-cpu-results', markdownCpu);
    log(
      `wrote bench/results/overload.json, bench/results/overload.svg and the tables in bench/README.md (${durationS} s)`,
    );
  } else {
    log(`wrote overload.json and overload.svg in ${outDir} (${durationS} s)`);
  }
} else {
  log(`done in ${durationS} s (nothing written)`);
}

/** One row per target, for the tables. */
function targetRows(list) {
  return list.map(
    (t) => `| ${t.target} | ${t.met === null ? '–' : t.met ? 'yes' : '**no**'} | ${t.measured} |`,
  );
}

/**
 * Replaces one of this benchmark's blocks in the README (between its
 * markers); a block not there yet goes after the open-loop block, or at the
 * end. Reads just before writing.
 */
function updateReadme(path, name, body) {
  const START = `<!-- ${name}:start -->`;
  const END = `<!-- ${name}:end -->`;
  let readme = '';
  try {
    readme = readFileSync(path, 'utf8');
  } catch {}
  const block = `${START}\n${body}\n${END}`;
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a !== -1 && b > a) {
    readme = readme.slice(0, a) + block + readme.slice(b + END.length);
  } else {
    const after = '<!-- overload-results:end -->';
    const at = readme.indexOf(after);
    readme =
      at === -1
        ? `${readme}\n## Overload\n\n${block}\n`
        : `${readme.slice(0, at + after.length)}\n\n${block}${readme.slice(at + after.length)}`;
  }
  writeFileSync(path, readme);
}
