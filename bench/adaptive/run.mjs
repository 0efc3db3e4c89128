// Adaptive: does a learned limit keep a server at its backend's best when the
// backend's capacity moves? The backend's best concurrency steps through
// phases (10, then 25, then 5; 10 s each), its service time 20 ms x
// max(1, (in flight / C)^2); open-loop arrivals above the largest capacity.
// Servers: no limiter, fixed limits of 10 and 50, and AdaptiveSemaphore with
// each algorithm, each in a fresh child process (pinned to core 1 when taskset
// exists), all with the same bounded queue. doorman is loaded from its build.
//
//   pnpm bench adaptive [--quick] [--rate 1500] [--servers a,b] [--no-write] ...
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gitCommit } from '../git-commit.mjs';
import { burst, openLoop } from '../overload/load.mjs';
import { quantile } from '../overload/stats.mjs';
import { plotAdaptive } from './plot.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = dirname(here);
const repoRoot = dirname(benchDir);

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string' },
    'phase-ms': { type: 'string' },
    'skip-ms': { type: 'string' },
    capacities: { type: 'string' },
    servers: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`pnpm bench adaptive [options]

  --rate N            offered requests per second (default 1500: 1.2x the largest capacity)
  --capacities LIST   the backend's best concurrency in each phase (default 10,25,5)
  --phase-ms N        length of each phase (default 10000; --quick: 4000)
  --skip-ms N         start of each phase left out of its numbers (default 3000; --quick: 1500)
  --servers LIST      any of none,fixed-10,fixed-50,gradient2,aimd,vegas (default all)
  --no-pin            do not pin the server (core 1) and the load generator (core 0)
  --no-build          use packages/*/dist as they are
  --out DIR           write adaptive.json and adaptive.svg there, and leave README.md alone
  --no-write          print the tables only; write nothing
  --quick             short phases (about a minute in all); writes nothing unless --out is given
`);
  process.exit(0);
}

const BASE_MS = 20;
const quick = opts.quick;
const rate = Number(opts.rate ?? 1500);
const capacities = (opts.capacities ?? '10,25,5').split(',').map(Number);
const phaseMs = Number(opts['phase-ms'] ?? (quick ? 4000 : 10000));
const skipMs = Number(opts['skip-ms'] ?? (quick ? 1500 : 3000));
const ALL = ['none', 'fixed-10', 'fixed-50', 'gradient2', 'aimd', 'vegas'];
const serverNames = opts.servers ? opts.servers.split(',') : ALL;
for (const s of serverNames) if (!ALL.includes(s)) throw new Error(`unknown server ${s}`);
const write = !opts['no-write'] && (!quick || opts.out !== undefined);
const outDir = opts.out ?? join(benchDir, 'results');
const log = (line) => process.stderr.write(`${line}\n`);
const started = performance.now();

const LABELS = {
  none: 'no limiter',
  'fixed-10': 'fixed limit 10',
  'fixed-50': 'fixed limit 50',
  gradient2: 'adaptive: gradient2 (default)',
  aimd: 'adaptive: aimd',
  vegas: 'adaptive: vegas',
};

// ---- pinning: the server on core 1, this process (the load generator) on core 0
const hasTaskset = spawnSync('taskset', ['-c', '1', 'true']).status === 0;
const pin = !opts['no-pin'] && hasTaskset && cpus().length >= 2;
if (pin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

// ---- the build, copied aside so a rebuild elsewhere cannot pull it from under a server
const PACKAGES = ['semaphore', 'http', 'express', 'adaptive'];
if (!opts['no-build']) {
  log('building @doorman/express, @doorman/adaptive and their dependencies ...');
  execFileSync(
    'pnpm',
    ['--filter', '@doorman/express...', '--filter', '@doorman/adaptive...', 'run', 'build'],
    { cwd: repoRoot, stdio: 'ignore' },
  );
}
const snapshot = mkdtempSync(join(tmpdir(), 'doorman-adaptive-'));
process.on('exit', () => rmSync(snapshot, { recursive: true, force: true }));
const env = { ...process.env };
for (const name of PACKAGES) {
  const from = join(repoRoot, 'packages', name);
  if (!existsSync(join(from, 'dist'))) continue;
  const to = join(snapshot, 'node_modules', '@doorman', name);
  mkdirSync(to, { recursive: true });
  cpSync(join(from, 'package.json'), join(to, 'package.json'));
  cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true });
  env[`DOORMAN_${name.toUpperCase()}`] = join(to, 'dist', 'esm', 'index.js');
}

async function startServer(variant) {
  const args = [join(here, 'server.mjs'), variant, `${capacities.join(',')}@${phaseMs}`];
  const command = pin
    ? ['taskset', ['-c', '1', process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(command[0], command[1], {
    cwd: benchDir,
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [hello] = await once(child, 'message');
  let nextId = 0;
  const pending = new Map();
  child.on('message', (msg) => {
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
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
  return { url: `http://127.0.0.1:${hello.port}/`, ask, stop };
}

// ---- one run: the phases under open-loop load
const BUCKET_MS = 500;
async function run(variant) {
  const server = await startServer(variant);
  try {
    await burst(server.url, { amount: variant === 'none' ? 400 : 2000, connections: 10 });
    await sleep(500);
    await server.ask('arm');
    const at = [];
    const status = [];
    const latency = [];
    let stats;
    await openLoop(server.url, {
      rate,
      duration: (capacities.length * phaseMs) / 1000,
      timeout: 10,
      onResponse: (code, ms) => {
        at.push(performance.timeOrigin + performance.now());
        status.push(code);
        latency.push(ms);
      },
      atEnd: async () => {
        stats = await server.ask('stats');
      },
    });
    return analyse(variant, stats, at, status, latency);
  } finally {
    await server.stop();
  }
}

function analyse(variant, stats, at, status, latency) {
  const start = stats.startEpochMs;
  const window = (from, to) => {
    const ok = [];
    let rejected = 0;
    let other = 0;
    for (let i = 0; i < at.length; i++) {
      const t = at[i] - start;
      if (t <= from || t > to) continue;
      if (status[i] >= 200 && status[i] < 300) ok.push(latency[i]);
      else if (status[i] === 503) rejected++;
      else other++;
    }
    ok.sort((a, b) => a - b);
    return { ok, rejected, other, total: ok.length + rejected + other };
  };
  const phases = capacities.map((capacity, i) => {
    const from = i * phaseMs + skipMs;
    const to = (i + 1) * phaseMs;
    const w = window(from, to);
    const best = (capacity / BASE_MS) * (to - from);
    // Settled: from the first 500 ms bucket after which every bucket of the
    // phase keeps >= 85% of the capacity.
    let settledAt = null;
    for (let b = i * phaseMs; b + BUCKET_MS <= to; b += BUCKET_MS) {
      const share = window(b, b + BUCKET_MS).ok.length / ((capacity / BASE_MS) * BUCKET_MS);
      if (share < 0.85) settledAt = null;
      else if (settledAt === null) settledAt = b - i * phaseMs;
    }
    const limits = stats.trace.filter(([t]) => t > from && t <= to).map(([, limit]) => limit);
    return {
      capacity,
      goodputShare: w.ok.length / best,
      goodputPerS: (w.ok.length / (to - from)) * 1000,
      p50: quantile(w.ok, 0.5),
      p99: quantile(w.ok, 0.99),
      rejectedShare: w.total === 0 ? 0 : w.rejected / w.total,
      otherStatuses: w.other,
      settledMs: settledAt,
      meanLimit:
        limits.length === 0 || limits[0] === null
          ? null
          : limits.reduce((a, b) => a + b, 0) / limits.length,
    };
  });
  const all = window(0, capacities.length * phaseMs);
  const buckets = [];
  for (let b = 0; b < capacities.length * phaseMs; b += BUCKET_MS) {
    buckets.push([b, (window(b, b + BUCKET_MS).ok.length / BUCKET_MS) * 1000]);
  }
  return {
    server: variant,
    phases,
    goodputPerS: (all.ok.length / (capacities.length * phaseMs)) * 1000,
    bestPerS: (capacities.reduce((a, c) => a + c / BASE_MS, 0) / capacities.length) * 1000,
    responses: at.length,
    trace: stats.trace,
    buckets,
    loopDelayMs: stats.loopDelayMs,
    minLatencyMs: stats.minLatencyMs,
  };
}

const loadAvgStart = loadavg();
const rows = [];
for (const variant of serverNames) {
  const row = await run(variant);
  rows.push(row);
  log(
    `${variant}: goodput ${Math.round(row.goodputPerS)}/s of ${Math.round(row.bestPerS)}/s; ` +
      row.phases
        .map(
          (p) =>
            `C=${p.capacity}: ${(p.goodputShare * 100).toFixed(0)}%, p99 ${p.p99?.toFixed(0) ?? '–'} ms, 503 ${(p.rejectedShare * 100).toFixed(0)}%, settled ${p.settledMs === null ? 'never' : `${(p.settledMs / 1000).toFixed(1)} s`}, limit ${p.meanLimit?.toFixed(1) ?? '–'}`,
        )
        .join(' | '),
  );
}
const loadAvgEnd = loadavg();

// ---- tables and targets
const pct = (v) => `${(v * 100).toFixed(0)}%`;
const ms = (v) => (v == null ? '–' : v.toFixed(0));
const commit = gitCommit(repoRoot);
const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cpus: cpus().length,
  memGiB: Math.round(totalmem() / 2 ** 30),
  os: `${platform()} ${release()}`,
  node: process.version,
  date: new Date().toISOString(),
  commit,
  loadAvgStart: loadAvgStart.map((v) => Number(v.toFixed(2))),
  loadAvgEnd: loadAvgEnd.map((v) => Number(v.toFixed(2))),
  pinned: pin,
};
const md = [
  `Machine: ${machine.cpu}, ${machine.cpus} CPUs, ${machine.memGiB} GiB, ${machine.os}; Node ${machine.node}; ${machine.date.slice(0, 16).replace('T', ' ')} UTC; commit ${commit}; load average ${machine.loadAvgStart.join(' ')} at start, ${machine.loadAvgEnd.join(' ')} at the end (the machine is shared)${pin ? '; server pinned to core 1, load generator to core 0' : ''}${quick ? '; **quick form**' : ''}.`,
  '',
  `Offered ${rate} requests/s; phases of ${phaseMs / 1000} s with capacities ${capacities.join(', ')} (best ${capacities.map((c) => (c / BASE_MS) * 1000).join(', ')} answers/s); each phase measured after its first ${skipMs / 1000} s. Goodput is 2xx answers as a share of that best.`,
  '',
  `| server | ${capacities.map((c) => `C=${c}: goodput · 2xx p50/p99 ms · 503 · limit`).join(' | ')} | all phases: goodput/s | settled after each step |`,
  `|---|${capacities.map(() => '---').join('|')}|--:|---|`,
];
for (const r of rows) {
  md.push(
    `| ${LABELS[r.server]} | ${r.phases
      .map(
        (p) =>
          `${pct(p.goodputShare)} · ${ms(p.p50)}/${ms(p.p99)} · ${pct(p.rejectedShare)} · ${p.meanLimit === null ? '–' : p.meanLimit.toFixed(1)}`,
      )
      .join(' | ')} | ${Math.round(r.goodputPerS)} | ${r.phases
      .map((p) => (p.settledMs === null ? 'never' : `${(p.settledMs / 1000).toFixed(1)} s`))
      .join(', ')} |`,
  );
}
const def = rows.find((r) => r.server === 'gradient2');
const fixed = rows.filter((r) => r.server.startsWith('fixed-'));
const targets = [];
if (def !== undefined) {
  targets.push({
    target: 'gradient2: >= 90% of capacity in every phase',
    met: def.phases.every((p) => p.goodputShare >= 0.9),
    measured: def.phases
      .map((p) => `C=${p.capacity}: ${(p.goodputShare * 100).toFixed(1)}%`)
      .join(', '),
  });
  targets.push({
    target: 'gradient2: 2xx p99 under 300 ms in every phase',
    met: def.phases.every((p) => p.p99 !== null && p.p99 < 300),
    measured: def.phases.map((p) => `${ms(p.p99)} ms`).join(', '),
  });
  if (fixed.length > 0) {
    targets.push({
      target: 'gradient2: goodput over all phases beats every fixed limit',
      met: fixed.every((f) => def.goodputPerS > f.goodputPerS),
      measured: `${Math.round(def.goodputPerS)}/s vs ${fixed.map((f) => `${Math.round(f.goodputPerS)}/s (${LABELS[f.server]})`).join(', ')}`,
    });
  }
  targets.push({
    target: 'gradient2: settles within 3 s of each step',
    met: def.phases.every((p) => p.settledMs !== null && p.settledMs <= 3000),
    measured: def.phases
      .map((p) => (p.settledMs === null ? 'never' : `${(p.settledMs / 1000).toFixed(1)} s`))
      .join(', '),
  });
}
md.push('', '| target | met | measured |', '|---|---|---|');
for (const t of targets) md.push(`| ${t.target} | ${t.met ? 'yes' : '**no**'} | ${t.measured} |`);
md.push('', '![learned limit and goodput over time](results/adaptive.svg)', '');
const markdown = md.join('\n');
process.stdout.write(`\n${markdown}\n`);

const config = {
  rate,
  capacities,
  phaseMs,
  skipMs,
  baseMs: BASE_MS,
  quick,
  queue: { maxQueue: 50, queueTimeoutMs: 250 },
};
const doc = { machine, config, rows, targets, labels: LABELS };
const svg = plotAdaptive(doc);
const durationS = Math.round((performance.now() - started) / 1000);
if (write) {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'adaptive.json'), `${JSON.stringify(doc)}\n`);
  writeFileSync(join(outDir, 'adaptive.svg'), svg);
  if (opts.out === undefined) {
    updateReadme(join(benchDir, 'README.md'), markdown);
    log(
      `wrote bench/results/adaptive.json, bench/results/adaptive.svg and the table in bench/README.md (${durationS} s)`,
    );
  } else log(`wrote adaptive.json and adaptive.svg in ${outDir} (${durationS} s)`);
} else log(`done in ${durationS} s (nothing written)`);

/** Replaces this benchmark's block in the README. Reads just before writing. */
function updateReadme(path, body) {
  const START = '<!-- adaptive-results:start -->';
  const END = '<!-- adaptive-results:end -->';
  let readme = readFileSync(path, 'utf8');
  const block = `${START}\n${body}\n${END}`;
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a !== -1 && b > a) readme = readme.slice(0, a) + block + readme.slice(b + END.length);
  else readme = `${readme}${readme.endsWith('\n') ? '' : '\n'}\n${block}\n`;
  writeFileSync(path, readme);
}
