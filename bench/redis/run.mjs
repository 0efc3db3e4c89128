// @doorman/redis against redis-semaphore (npm), on a real Redis.
//
//   load-1    4 processes x 20 concurrent acquirers share a limit of 10, hold 1 ms
//   load-0.1  the same with 0.1 ms holds
//   few       4 processes x 1 acquirer, limit 1, hold 1 ms, 2 ms between turns:
//             a release finds one or two waiters, not seventy
//
// Reports acquisitions per second, the hand-off latency from a release to the
// admission of the next waiter (p50, p99), and CPU per acquisition (client
// processes, Redis). Every (case, library) runs in fresh processes, in
// interleaved rounds (the library order alternates); cells are medians over
// rounds. doorman is loaded from its built package (dist), as users get it.
//
//   node redis/run.mjs [--rounds 5] [--measure 3000] [--quick] [--no-build] [--no-write] ...
import { execFileSync, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { gitCommit } from '../git-commit.mjs';
import { report } from './report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = dirname(here);
const repoRoot = dirname(benchDir);
const worker = join(here, 'worker.mjs');

const CASES = {
  'load-1': { processes: 4, concurrency: 20, limit: 10, holdMs: 1, thinkMs: 0 },
  'load-0.1': { processes: 4, concurrency: 20, limit: 10, holdMs: 0.1, thinkMs: 0 },
  few: { processes: 4, concurrency: 1, limit: 1, holdMs: 1, thinkMs: 2 },
};
const caseLabel = (c) =>
  `${c.processes} x ${c.concurrency}, limit ${c.limit}, hold ${c.holdMs} ms${c.thinkMs ? `, ${c.thinkMs} ms between turns` : ''}`;

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string' },
    measure: { type: 'string' },
    warm: { type: 'string' },
    cases: { type: 'string' },
    libs: { type: 'string' },
    redis: { type: 'string' },
    'redis-server': { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    'no-pipelining': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  process.stdout.write(`pnpm bench redis [options]

  --rounds N        interleaved rounds (default 5; --quick: 1)
  --measure MS      measured time per run, after the warm-up (default 3000; --quick: 1000)
  --warm MS         warm-up per run, not counted (default 500)
  --cases LIST      any of ${Object.keys(CASES).join(',')} (default all)
  --libs LIST       any of doorman,doorman-handoff,redis-semaphore (default all)
                    (doorman-handoff: doorman with localHandOff 4)
  --no-pipelining   ioredis clients without enableAutoPipelining (default: with,
                    for every library alike)
  --redis URL       use this Redis (default: start a throwaway redis-server on a
                    free port, so the CPU it reports is the benchmark's own)
  --redis-server P  the redis-server binary (default: redis-server on PATH)
  --quick           1 short round, to check the harness; writes nothing
  --no-build        use packages/redis/dist as it is
  --no-write        print the tables only; leave results/ and README.md alone
`);
  process.exit(0);
}

const num = (text, fallback) => {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`not a positive number: ${text}`);
  return v;
};
const quick = opts.quick;
const config = {
  rounds: num(opts.rounds, quick ? 1 : 5),
  measureMs: num(opts.measure, quick ? 1000 : 3000),
  warmMs: num(opts.warm, 500),
  cases: (opts.cases ?? Object.keys(CASES).join(',')).split(','),
  libs: (opts.libs ?? 'doorman,doorman-handoff,redis-semaphore').split(','),
  redis: opts.redis,
  pipelining: !opts['no-pipelining'],
};
for (const c of config.cases) {
  if (!(c in CASES)) throw new RangeError(`unknown case ${c}`);
}
const write = !quick && !opts['no-write'];
/** How many local hand-offs in a row the `doorman-handoff` variant allows. */
const LOCAL_HAND_OFF = 4;
const LABELS = {
  doorman: '@doorman/redis',
  'doorman-handoff': `@doorman/redis, localHandOff ${LOCAL_HAND_OFF}`,
  'redis-semaphore': 'redis-semaphore',
};
for (const lib of config.libs) {
  if (!(lib in LABELS)) throw new RangeError(`unknown library ${lib}`);
}
const log = (line) => process.stderr.write(`${line}\n`);

// ---- build doorman as users get it, then snapshot the build (with the core
// it imports) so that a concurrent rebuild cannot change it mid-run
if (!opts['no-build']) {
  const pnpm = (dir) =>
    execFileSync('pnpm', ['run', 'build'], { cwd: join(repoRoot, dir), stdio: 'inherit' });
  if (!existsSync(join(repoRoot, 'packages/semaphore/dist/esm/index.js')))
    pnpm('packages/semaphore');
  pnpm('packages/redis');
}
const snapshot = mkdtempSync(join(tmpdir(), 'doorman-bench-redis-'));
process.on('exit', () => rmSync(snapshot, { recursive: true, force: true }));
for (const name of ['semaphore', 'redis']) {
  const target = join(snapshot, 'node_modules', '@doorman', name);
  cpSync(join(repoRoot, 'packages', name, 'dist'), join(target, 'dist'), { recursive: true });
  cpSync(join(repoRoot, 'packages', name, 'package.json'), join(target, 'package.json'));
}
const doormanEntry = pathToFileURL(
  join(snapshot, 'node_modules/@doorman/redis/dist/esm/index.js'),
).href;

// ---- a Redis of its own, unless told which to use
let server;
if (config.redis === undefined) {
  const port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address();
      probe.close(() => resolve(p));
    });
  });
  server = spawn(
    opts['redis-server'] ?? 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  // Whatever ends this run (a failed worker included), the server goes with it.
  process.on('exit', () => server.exitCode === null && server.kill('SIGKILL'));
  await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  config.redis = `redis://127.0.0.1:${port}`;
}
const redis = new Redis(config.redis);
const redisCpuUs = async () => {
  const text = String(await redis.info('cpu'));
  const user = Number(/used_cpu_user:([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  return (user + sys) * 1e6;
};
const startedAt = new Date();
const loadStart = loadavg();
const t0 = performance.now();
const commit = gitCommit(repoRoot);
const info = String(await redis.info('server'));
const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';

const nowUs = () => Number(process.hrtime.bigint()) / 1e3;

function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

function median(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One run: fresh processes, one library, one case. */
async function run(lib, c) {
  const key = `bench-redis-${lib}-${randomBytes(4).toString('hex')}`;
  const cfg = {
    lib,
    key,
    redis: config.redis,
    doormanEntry,
    pipelining: config.pipelining,
    localHandOff: LOCAL_HAND_OFF,
    ...c,
  };
  const children = Array.from({ length: c.processes }, () =>
    fork(worker, [JSON.stringify(cfg)], {
      cwd: benchDir,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const next = (child, type) =>
    new Promise((resolve, reject) => {
      const onMessage = (m) => {
        if (m.type === type) {
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(m);
        }
      };
      const onExit = (code) => reject(new Error(`${lib} worker exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  await Promise.all(children.map((c) => next(c, 'ready')));
  const startAt = nowUs() + 100_000;
  const measureFrom = startAt + config.warmMs * 1000;
  const endAt = measureFrom + config.measureMs * 1000;
  const done = children.map((c) => next(c, 'done'));
  const redisCpuBefore = await redisCpuUs();
  for (const c of children) c.send({ type: 'go', startAt, endAt });
  const reports = await Promise.all(done);
  for (const c of children) c.disconnect();
  const redisCpu = (await redisCpuUs()) - redisCpuBefore;
  await Promise.all(
    children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)),
  );
  // redis-semaphore keeps its state under `semaphore:<key>`; doorman leaves nothing once idle.
  await redis.del(`semaphore:${key}`, key);

  const admits = reports
    .flatMap((r) => r.admits.map((at, i) => ({ at, start: r.starts[i] })))
    .sort((a, b) => a.at - b.at);
  const releases = reports.flatMap((r) => r.releases).sort((a, b) => a - b);
  const inWindow = (t) => t >= measureFrom && t < endAt;
  const acquisitions = admits.filter((a) => inWindow(a.at)).length;
  // Hand-off: at any moment admissions - releases <= limit, so cluster-wide
  // the (limit + i)-th admission is the one the i-th release made room for.
  const latencies = [];
  for (let i = 0; i + c.limit < admits.length && i < releases.length; i++) {
    if (inWindow(releases[i])) latencies.push((admits[i + c.limit].at - releases[i]) / 1000);
  }
  // Wait: from acquire() to admission, for the admissions in the window.
  const waits = admits
    .filter((a) => inWindow(a.at))
    .map((a) => (a.at - a.start) / 1000)
    .sort((a, b) => a - b);
  latencies.sort((a, b) => a - b);
  return {
    clientCpu: reports.reduce((sum, r) => sum + r.cpuUs, 0) / admits.length,
    redisCpu: redisCpu / admits.length,
    perSecond: acquisitions / (config.measureMs / 1000),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    wait50: quantile(waits, 0.5),
    wait99: quantile(waits, 0.99),
    handoffs: latencies.length,
    errors: reports.reduce((s, r) => s + r.errors, 0),
  };
}

const samples = new Map(); // `${lib}|${case}` -> runs
for (let round = 0; round < config.rounds; round++) {
  const libs = round % 2 === 0 ? config.libs : [...config.libs].reverse();
  for (const name of config.cases) {
    for (const lib of libs) {
      const r = await run(lib, CASES[name]);
      const id = `${lib}|${name}`;
      if (!samples.has(id)) samples.set(id, []);
      samples.get(id).push(r);
      log(
        `round ${round + 1}/${config.rounds} ${name} ${lib}: ${r.perSecond.toFixed(0)} acq/s, hand-off p50 ${r.p50.toFixed(3)} ms p99 ${r.p99.toFixed(3)} ms (${r.handoffs} hand-offs${r.errors ? `, ${r.errors} errors` : ''}); CPU µs/acq: clients ${r.clientCpu.toFixed(0)}, Redis ${r.redisCpu.toFixed(0)}`,
      );
    }
  }
}
await redis.quit();
if (server !== undefined) {
  const gone = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await gone;
}

// ---- summary
const results = {};
for (const [id, runs] of samples) {
  const [lib, name] = id.split('|');
  results[lib] ??= {};
  const range = (f) => [Math.min(...runs.map(f)), Math.max(...runs.map(f))];
  results[lib][name] = {
    perSecond: median(runs.map((r) => r.perSecond)),
    perSecondRange: range((r) => r.perSecond),
    p50: median(runs.map((r) => r.p50)),
    p50Range: range((r) => r.p50),
    p99: median(runs.map((r) => r.p99)),
    p99Range: range((r) => r.p99),
    wait50: median(runs.map((r) => r.wait50)),
    wait99: median(runs.map((r) => r.wait99)),
    wait99Range: range((r) => r.wait99),
    clientCpu: median(runs.map((r) => r.clientCpu)),
    redisCpu: median(runs.map((r) => r.redisCpu)),
    errors: runs.reduce((s, r) => s + r.errors, 0),
  };
}
const durationS = Math.round((performance.now() - t0) / 1000);
const loadEnd = loadavg();
const machine = {
  cpu: cpus()[0]?.model?.trim() ?? 'unknown',
  cpus: availableParallelism(),
  memGiB: Math.round(totalmem() / 2 ** 30),
  os: `${platform()} ${release()}`,
  node: process.version,
  redis: redisVersion,
  date: startedAt.toISOString(),
  commit,
  loadStart: loadStart.map((l) => l.toFixed(2)),
  loadEnd: loadEnd.map((l) => l.toFixed(2)),
};

const { markdown, targets } = report({
  results,
  config,
  machine,
  durationS,
  CASES,
  caseLabel,
  LABELS,
  LOCAL_HAND_OFF,
});
process.stdout.write(`\n${markdown}\n`);

if (write) {
  const resultsDir = join(benchDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    join(resultsDir, 'redis.json'),
    `${JSON.stringify({ machine, config, durationS, results, targets, samples: Object.fromEntries(samples) }, null, 2)}\n`,
  );
  const readmePath = join(benchDir, 'README.md');
  const START = '<!-- redis-results:start -->';
  const END = '<!-- redis-results:end -->';
  let readme = '';
  try {
    readme = readFileSync(readmePath, 'utf8');
  } catch {}
  const block = `${START}\n${markdown}\n${END}`;
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a !== -1 && b > a) readme = readme.slice(0, a) + block + readme.slice(b + END.length);
  else {
    readme = `${readme}${readme.endsWith('\n') || readme === '' ? '' : '\n'}\n## Redis\n\n${block}\n`;
  }
  writeFileSync(readmePath, readme);
  log(`wrote bench/results/redis.json and the table in bench/README.md (${durationS} s)`);
} else {
  log(`done in ${durationS} s (nothing written)`);
}
if ([...samples.values()].some((runs) => runs.some((r) => r.errors > 0))) process.exitCode = 1;
