// The core semaphore against its peers: builds @doorman/semaphore, then runs
// every (library, scenario, size) in its own fresh Node process, in
// interleaved rounds, and reports medians. See bench/README.md for the method.
//
//   node semaphore/run.mjs [--rounds 7] [--quick] [--no-build] [--no-write] ...
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = dirname(here);
const repoRoot = dirname(benchDir);
const worker = join(here, 'worker.mjs');

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string' },
    ops: { type: 'string' },
    tasks: { type: 'string' },
    sizes: { type: 'string' },
    'memory-size': { type: 'string' },
    budget: { type: 'string' },
    'big-rounds': { type: 'string' },
    clock: { type: 'string' },
    'from-raw': { type: 'string' },
    scenarios: { type: 'string' },
    libs: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  process.stdout.write(`pnpm bench semaphore [options]

  --rounds N         interleaved rounds (default 7; --quick: 2)
  --ops N            (a) acquire + release pairs per repetition (default 1e6)
  --tasks N          (b) tasks handed off through limit 1 (default 1e4)
  --sizes A,B,C      (c) queue sizes (default 1e4,1e5,1e6)
  --memory-size N    (d) waiters queued for the heap measurement (default 1e5)
  --budget S         (c) seconds an enqueue or a drain may take before it is
                     reported as "n/a (> S s)" and dropped from later rounds (default 10)
  --big-rounds N     rounds that include the largest queue size (default 3; the
                     others run in every round)
  --clock wall|cpu   what the time tables report (default wall): wall time, or the
                     process's CPU time, which a busy machine disturbs less; both
                     are kept in results/semaphore.raw.json
  --scenarios LIST   any of uncontended,handoff,scaling,memory (default all)
  --libs LIST        any of doorman,async-sema,async-mutex,p-limit,p-queue (default all)
  --from-raw FILE    measure nothing: summarise the samples of an earlier run
                     (results/semaphore.raw.json), e.g. with another --clock
  --quick            small sizes and 2 rounds, to check the harness; writes nothing
  --no-build         use packages/semaphore/dist as it is
  --no-write         print the tables only; leave results/ and README.md alone
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
const raw = opts['from-raw'] ? JSON.parse(readFileSync(opts['from-raw'], 'utf8')) : undefined;
const config = raw
  ? { ...raw.config, clock: opts.clock ?? 'wall' }
  : {
      rounds: num(opts.rounds, quick ? 2 : 7),
      ops: num(opts.ops, quick ? 1e5 : 1e6),
      tasks: num(opts.tasks, quick ? 2000 : 1e4),
      sizes: (opts.sizes ?? (quick ? '1e4,1e5' : '1e4,1e5,1e6')).split(',').map((s) => num(s)),
      memorySize: num(opts['memory-size'], quick ? 1e4 : 1e5),
      budgetS: num(opts.budget, quick ? 3 : 10),
      bigRounds: num(opts['big-rounds'], 3),
      clock: opts.clock ?? 'wall',
    };
if (config.clock !== 'wall' && config.clock !== 'cpu')
  throw new RangeError('--clock is wall or cpu');
/** The worker's field for a time on the chosen clock: nsPerOp or cpuNsPerOp. */
const onClock = (field) =>
  config.clock === 'cpu' ? `cpu${field[0].toUpperCase()}${field.slice(1)}` : field;
const write = !quick && !opts['no-write'] && raw === undefined;

const SCENARIOS = {
  uncontended: [
    'doorman',
    'doorman:try',
    'async-sema',
    'async-sema:try',
    'async-mutex',
    'p-limit',
    'p-queue',
  ],
  handoff: ['doorman', 'doorman:run', 'async-sema', 'async-mutex', 'p-limit', 'p-queue'],
  scaling: ['doorman', 'async-sema', 'async-mutex', 'p-limit', 'p-queue'],
  memory: ['doorman', 'async-sema', 'async-mutex', 'p-limit', 'p-queue'],
};
const LABELS = {
  doorman: 'doorman `acquire`',
  'doorman:try': 'doorman `tryAcquire`',
  'doorman:run': 'doorman `run`',
  'async-sema': 'async-sema',
  'async-sema:try': 'async-sema `tryAcquire`',
  'async-mutex': 'async-mutex `Semaphore`',
  'p-limit': 'p-limit',
  'p-queue': 'p-queue',
};
const CALLS = {
  doorman: '`const p = await sem.acquire(); p.release()`',
  'doorman:try': '`sem.tryAcquire().release()` (sync)',
  'doorman:run': '`sem.run(fn)`',
  'async-sema': '`await s.acquire(); s.release()`',
  'async-sema:try': '`s.release(s.tryAcquire())` (sync)',
  'async-mutex': '`const [, release] = await sem.acquire(); release()`',
  'p-limit': '`await limit(fn)` (wraps fn; runs it)',
  'p-queue': '`await queue.add(fn)` (wraps fn; runs it)',
};
const scenarioNames = (opts.scenarios ?? Object.keys(SCENARIOS).join(',')).split(',');
for (const s of scenarioNames) if (!(s in SCENARIOS)) throw new RangeError(`unknown scenario ${s}`);
const libFilter = opts.libs?.split(',');
const wanted = (subject) => libFilter === undefined || libFilter.includes(subject.split(':')[0]);

const log = (line) => process.stderr.write(`${line}\n`);
const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: repoRoot, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};

// ---- build, then snapshot the build so a concurrent rebuild cannot change it mid-run
const started = performance.now();
if (!opts['no-build'] && raw === undefined) {
  log('building @doorman/semaphore ...');
  const b = spawnSync('pnpm', ['--filter', '@doorman/semaphore', 'build'], {
    cwd: repoRoot,
    stdio: ['ignore', process.stderr, 'inherit'], // stdout is for the tables
  });
  if (b.status !== 0) {
    log('build failed');
    process.exit(1);
  }
}
let childEnv = process.env;
if (raw === undefined) {
  const snapshot = mkdtempSync(join(tmpdir(), 'doorman-bench-'));
  cpSync(join(repoRoot, 'packages/semaphore/dist/esm'), snapshot, { recursive: true });
  process.on('exit', () => rmSync(snapshot, { recursive: true, force: true }));
  childEnv = { ...process.env, DOORMAN_BENCH_ENTRY: join(snapshot, 'index.js') };
}

const cpuModel =
  /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ??
  cpus()[0]?.model ??
  'unknown';
const srcDirty = sh('git', ['status', '--porcelain', '--', 'packages/semaphore/src']);
const machine = raw?.machine ?? {
  date: new Date().toISOString(),
  node: process.version,
  nproc: availableParallelism(),
  cpu: cpuModel,
  os: `${platform()} ${release()}`,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  loadAvgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  commit: sh('git', ['rev-parse', '--short', 'HEAD']),
  srcUncommittedChanges: srcDirty === undefined ? undefined : srcDirty !== '',
};

// ---- the jobs of one round, rotated so no library always runs first or last
const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length]);
const timedOut = new Map(); // subject -> smallest size that ran out of budget
function jobsFor(round) {
  const jobs = [];
  for (const scenario of scenarioNames) {
    const subjects = rotate(SCENARIOS[scenario].filter(wanted), round);
    if (scenario === 'uncontended') for (const s of subjects) jobs.push([s, scenario, config.ops]);
    if (scenario === 'handoff') for (const s of subjects) jobs.push([s, scenario, config.tasks]);
    if (scenario === 'memory')
      for (const s of subjects) jobs.push([s, scenario, config.memorySize]);
    if (scenario === 'scaling') {
      const largest = Math.max(...config.sizes);
      for (const size of config.sizes) {
        if (size === largest && config.sizes.length > 1 && round >= config.bigRounds) continue;
        for (const s of subjects) if (!(timedOut.get(s) <= size)) jobs.push([s, scenario, size]);
      }
    }
  }
  return jobs;
}

const budgetMs = config.budgetS * 1000;
function runJob([subject, scenario, n]) {
  // Warm-ups and repetitions come on top of the budget; past this the child is killed.
  const killMs = scenario === 'scaling' ? 3 * budgetMs + 30_000 : 120_000;
  const r = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      '--max-old-space-size=8192',
      worker,
      subject,
      scenario,
      String(n),
      String(budgetMs),
    ],
    { cwd: here, env: childEnv, encoding: 'utf8', timeout: killMs, maxBuffer: 1 << 24 },
  );
  if (r.error?.code === 'ETIMEDOUT' || (r.status === null && r.signal === 'SIGTERM')) {
    return { timedOut: 'killed', budgetMs };
  }
  if (r.status !== 0) {
    return {
      error: (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(-3).join(' | '),
    };
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

// ---- run
const samples = new Map(raw ? Object.entries(raw.samples) : []); // key -> worker results
const key = (subject, scenario, n) => `${scenario}|${subject}|${n}`;
const fmtN = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n));
for (let round = 0; raw === undefined && round < config.rounds; round++) {
  const jobs = jobsFor(round);
  for (const [i, job] of jobs.entries()) {
    const [subject, scenario, n] = job;
    const t0 = performance.now();
    const res = runJob(job);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const k = key(subject, scenario, n);
    if (!samples.has(k)) samples.set(k, []);
    samples.get(k).push(res);
    if (res.timedOut) {
      timedOut.set(subject, Math.min(timedOut.get(subject) ?? Number.POSITIVE_INFINITY, n));
    }
    const shown = res.error
      ? `ERROR ${res.error}`
      : res.timedOut
        ? `over budget (${res.timedOut})`
        : Object.entries(res)
            .filter(([name, v]) => typeof v === 'number' && name !== 'n' && !name.endsWith('GcNs'))
            .map(([name, v]) => `${name}=${v.toFixed(1)}`)
            .join(' ');
    log(
      `round ${round + 1}/${config.rounds} [${i + 1}/${jobs.length}] ${scenario} ${fmtN(n)} ${subject}: ${shown} (${secs} s)`,
    );
  }
}
const durationS = raw?.durationS ?? Math.round((performance.now() - started) / 1000);
machine.loadAvgAtEnd ??= loadavg().map((x) => Math.round(x * 100) / 100);

// ---- summarise
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
function summary(subject, scenario, n, field) {
  const runs = samples.get(key(subject, scenario, n));
  if (runs === undefined) return undefined;
  // A round over budget counts as +Infinity: the median is finite only if most
  // of the rounds that ran finished.
  const over = runs.filter((r) => r.timedOut);
  const values = runs.filter((r) => typeof r[field] === 'number').map((r) => r[field]);
  const errors = runs.filter((r) => r.error).map((r) => r.error);
  if (values.length === 0 && over.length === 0) return { na: 'error', errors };
  const m = median([...values, ...over.map(() => Number.POSITIVE_INFINITY)]);
  if (m === Number.POSITIVE_INFINITY) {
    return {
      na: `n/a (> ${over[0].budgetMs / 1000} s)`,
      overBudget: over.length,
      rounds: values.length,
    };
  }
  return {
    median: m,
    min: Math.min(...values),
    max: Math.max(...values),
    rounds: values.length,
    ...(over.length > 0 ? { overBudget: over.length } : {}),
    ...(errors.length > 0 ? { errors } : {}),
  };
}
const results = { uncontended: {}, handoff: {}, scaling: {}, memory: {} };
for (const scenario of scenarioNames) {
  for (const subject of SCENARIOS[scenario].filter(wanted)) {
    if (scenario === 'uncontended') {
      results.uncontended[subject] = summary(subject, scenario, config.ops, onClock('nsPerOp'));
    } else if (scenario === 'handoff') {
      results.handoff[subject] = summary(subject, scenario, config.tasks, onClock('nsPerTask'));
    } else if (scenario === 'memory') {
      results.memory[subject] = summary(subject, scenario, config.memorySize, 'bytesPerWaiter');
    } else {
      results.scaling[subject] = {};
      for (const size of config.sizes) {
        const s = (f) => summary(subject, scenario, size, f) ?? { na: 'skipped' };
        results.scaling[subject][size] = {
          enqueueNs: s(onClock('enqueueNs')),
          drainNs: s(onClock('drainNs')),
          enqueueGcNs: s('enqueueGcNs'),
          drainGcNs: s('drainGcNs'),
        };
      }
    }
  }
}

// ---- targets (issue 2): fastest in (a) and (b); drain at the largest size within 1.5x
// of the smallest; bytes per waiter no more than the leanest peer
const med = (x) => x?.median;
const peersOf = (table, mine) => Object.keys(table).filter((s) => !mine.includes(s));
const fastest = (table, mine, peers) => {
  const mineBest = Math.min(...mine.map((s) => med(table[s]) ?? Number.POSITIVE_INFINITY));
  let best;
  for (const p of peers) {
    const v = med(table[p]);
    if (v !== undefined && (best === undefined || v < best.v)) best = { p, v };
  }
  if (best === undefined || !Number.isFinite(mineBest)) return undefined;
  return { doorman: mineBest, bestPeer: best.p, peer: best.v, ratio: mineBest / best.v };
};
const targets = [];
const r2 = (x) => Math.round(x * 100) / 100;
if (scenarioNames.includes('uncontended')) {
  const t = results.uncontended;
  const promised = fastest(
    t,
    ['doorman'],
    peersOf(t, ['doorman', 'doorman:try', 'async-sema:try']),
  );
  const sync = fastest(
    t,
    ['doorman:try'],
    ['async-sema:try'].filter((s) => s in t),
  );
  if (promised) {
    targets.push({
      target: '(a) `acquire` + `release` faster than every peer awaiting its acquire',
      met: promised.ratio < 1,
      detail: `doorman ${promised.doorman.toFixed(1)} ns vs ${LABELS[promised.bestPeer]} ${promised.peer.toFixed(1)} ns (${r2(promised.ratio)}x)`,
    });
  }
  if (sync) {
    targets.push({
      target: '(a) `tryAcquire` + `release` faster than the peers’ synchronous try',
      met: sync.ratio < 1,
      detail: `doorman ${sync.doorman.toFixed(1)} ns vs ${LABELS[sync.bestPeer]} ${sync.peer.toFixed(1)} ns (${r2(sync.ratio)}x)`,
    });
  }
}
if (scenarioNames.includes('handoff')) {
  const t = results.handoff;
  const h = fastest(t, ['doorman'], peersOf(t, ['doorman', 'doorman:run']));
  const hr = fastest(t, ['doorman:run'], peersOf(t, ['doorman', 'doorman:run']));
  if (h) {
    targets.push({
      target: '(b) hand-off faster than every peer',
      met: h.ratio < 1,
      detail: `doorman \`acquire\` ${h.doorman.toFixed(0)} ns vs ${LABELS[h.bestPeer]} ${h.peer.toFixed(0)} ns (${r2(h.ratio)}x); doorman \`run\` ${hr ? `${hr.doorman.toFixed(0)} ns (${r2(hr.ratio)}x)` : 'n/a'}`,
    });
  }
}
if (scenarioNames.includes('scaling') && results.scaling.doorman && config.sizes.length > 1) {
  const lo = Math.min(...config.sizes);
  const hi = Math.max(...config.sizes);
  const a = med(results.scaling.doorman[lo]?.drainNs);
  const b = med(results.scaling.doorman[hi]?.drainNs);
  if (a !== undefined && b !== undefined) {
    targets.push({
      target: `(c) drain ns/waiter at ${fmtN(hi)} within 1.5x of that at ${fmtN(lo)}`,
      met: b / a <= 1.5,
      detail: `${b.toFixed(0)} ns at ${fmtN(hi)} vs ${a.toFixed(0)} ns at ${fmtN(lo)} (${r2(b / a)}x)`,
    });
  }
}
if (scenarioNames.includes('memory') && results.memory.doorman) {
  const t = results.memory;
  const m = fastest(t, ['doorman'], peersOf(t, ['doorman']));
  if (m) {
    targets.push({
      target: `(d) heap bytes per queued waiter (at ${fmtN(config.memorySize)}) no more than the leanest peer`,
      met: m.ratio <= 1,
      detail: `doorman ${m.doorman.toFixed(0)} B vs ${LABELS[m.bestPeer]} ${m.peer.toFixed(0)} B (${r2(m.ratio)}x)`,
    });
  }
}

// ---- markdown
const cell = (x, digits = 0) =>
  x === undefined
    ? '–'
    : x.na
      ? x.na
      : `${x.median.toFixed(digits)} <sub>${x.min.toFixed(digits)}–${x.max.toFixed(digits)}${x.overBudget ? `, ${x.overBudget} round(s) > ${config.budgetS} s` : ''}</sub>`;
const ratioTo = (x, base) =>
  x?.median !== undefined && base?.median ? `${r2(x.median / base.median)}x` : '–';
const md = [];
md.push(
  `Machine: ${machine.cpu}, ${machine.nproc} CPUs (nproc), ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}; ` +
    `${machine.date.slice(0, 16).replace('T', ' ')} UTC; commit ${machine.commit}${machine.srcUncommittedChanges ? ' (with uncommitted changes in packages/semaphore/src)' : ''}; ` +
    `load average ${machine.loadAvgAtStart.join(' / ')} at start, ${machine.loadAvgAtEnd.join(' / ')} at end. ` +
    `${config.rounds} interleaved rounds (the largest queue size in the first ${Math.min(config.bigRounds, config.rounds)}); each cell is the median over rounds, with the range (min–max) in small print; times are ${config.clock === 'cpu' ? 'process CPU time' : 'wall time'}. ` +
    `A full run took ${durationS} s.`,
  '',
);
if (scenarioNames.includes('uncontended')) {
  md.push(
    `#### (a) Uncontended acquire + release, ns/op (${fmtN(config.ops)} ops per repetition)`,
    '',
    '| library | one op is | ns/op | vs doorman `acquire` |',
    '|---|---|--:|--:|',
  );
  for (const [s, x] of Object.entries(results.uncontended)) {
    md.push(
      `| ${LABELS[s]} | ${CALLS[s]} | ${cell(x, 1)} | ${ratioTo(x, results.uncontended.doorman)} |`,
    );
  }
  md.push('');
}
if (scenarioNames.includes('handoff')) {
  md.push(
    `#### (b) Hand-off: limit 1, ${fmtN(config.tasks)} tasks queued then drained, ns/task`,
    '',
    '| library | ns/task | vs doorman `acquire` |',
    '|---|--:|--:|',
  );
  for (const [s, x] of Object.entries(results.handoff)) {
    md.push(`| ${LABELS[s]} | ${cell(x)} | ${ratioTo(x, results.handoff.doorman)} |`);
  }
  md.push('');
}
if (scenarioNames.includes('scaling')) {
  const sizes = config.sizes;
  md.push(
    '#### (c) Queue scaling: ns per waiter to enqueue / to drain (limit 1, one slot held)',
    '',
    `| library | ${sizes.map((n) => `enqueue ${fmtN(n)} | drain ${fmtN(n)}`).join(' | ')} | drain ${fmtN(sizes.at(-1))} / ${fmtN(sizes[0])} |`,
    `|---|${sizes.map(() => '--:|--:').join('|')}|--:|`,
  );
  for (const [s, bySize] of Object.entries(results.scaling)) {
    const cells = sizes.map((n) => `${cell(bySize[n].enqueueNs)} | ${cell(bySize[n].drainNs)}`);
    md.push(
      `| ${LABELS[s]} | ${cells.join(' | ')} | ${ratioTo(bySize[sizes.at(-1)].drainNs, bySize[sizes[0]].drainNs)} |`,
    );
  }
  md.push(
    '',
    `Of which garbage collection (median ns per waiter, from the VM's gc entries): ${Object.entries(
      results.scaling,
    )
      .map(
        ([s, bySize]) =>
          `${LABELS[s]} ${sizes.map((n) => `${fmtN(n)} ${med(bySize[n].enqueueGcNs)?.toFixed(0) ?? '–'}/${med(bySize[n].drainGcNs)?.toFixed(0) ?? '–'}`).join(', ')}`,
      )
      .join('; ')}.`,
    '',
  );
}
if (scenarioNames.includes('memory')) {
  md.push(
    `#### (d) Heap bytes per queued waiter (${fmtN(config.memorySize)} waiters)`,
    '',
    '| library | bytes/waiter | vs doorman |',
    '|---|--:|--:|',
  );
  for (const [s, x] of Object.entries(results.memory)) {
    md.push(`| ${LABELS[s]} | ${cell(x)} | ${ratioTo(x, results.memory.doorman)} |`);
  }
  md.push('');
}
if (targets.length > 0) {
  md.push('#### Targets', '', '| target | met | measured |', '|---|---|---|');
  for (const t of targets) md.push(`| ${t.target} | ${t.met ? 'yes' : '**no**'} | ${t.detail} |`);
  md.push('');
}
const markdown = md.join('\n');
process.stdout.write(`\n${markdown}\n`);

// ---- files
if (write) {
  const resultsDir = join(benchDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const doc = { machine, config, durationS, results, targets, calls: CALLS, labels: LABELS };
  writeFileSync(join(resultsDir, 'semaphore.json'), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(
    join(resultsDir, 'semaphore.raw.json'),
    `${JSON.stringify({ machine, config, durationS, samples: Object.fromEntries(samples) }, null, 2)}\n`,
  );
  const readmePath = join(benchDir, 'README.md');
  const START = '<!-- semaphore-results:start -->';
  const END = '<!-- semaphore-results:end -->';
  let readme = '';
  try {
    readme = readFileSync(readmePath, 'utf8');
  } catch {}
  const block = `${START}\n${markdown}\n${END}`;
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a !== -1 && b > a) readme = readme.slice(0, a) + block + readme.slice(b + END.length);
  else readme = `${readme}${readme.endsWith('\n') || readme === '' ? '' : '\n'}\n${block}\n`;
  writeFileSync(readmePath, readme);
  log(
    `wrote bench/results/semaphore.json, bench/results/semaphore.raw.json and the tables in bench/README.md (${durationS} s)`,
  );
} else {
  log(`done in ${durationS} s (nothing written)`);
}
if ([...samples.values()].some((runs) => runs.some((r) => r.error))) process.exitCode = 1;
