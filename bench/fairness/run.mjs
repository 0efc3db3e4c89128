// Fairness: one tenant floods, nine stay quiet. Does a fair share per tenant
// under one total keep the quiet tenants' service as it is when they are
// alone, while the backend still runs at its best?
//
//   pnpm bench fairness [--quick] [--duration 10] [--rounds 3] [--no-build] [--no-write]
//
// Backend: bench/fairness/server.mjs (thrashes past 10 in flight, each call
// 50 ms ± 50%, seeded): 200 calls/s at its best (--base-ms 20 gives
// bench/overload's 500/s). Load: open loop with bench/overload's generator,
// one per tenant, named by the x-tenant header: tenant `flood` offers 5x the
// capacity, `quiet-1` .. `quiet-9` 2% each. Servers: one global limit (limit
// 10, maxQueue 50), fair shares (limit 10 per tenant, totalLimit 10, maxQueue
// 50 per tenant), and the nine quiet tenants alone against the fair server as
// the baseline.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gitCommit } from '../git-commit.mjs';
import { burst, openLoop } from '../overload/load.mjs';
import { median, quantile } from '../overload/stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = dirname(here);
const repoRoot = dirname(benchDir);

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string' },
    rounds: { type: 'string' },
    'base-ms': { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    lockstep: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`pnpm bench fairness [options]

  --duration S   seconds of load per (round, server) (default 10; --quick: 3)
  --rounds N     rounds, servers interleaved; medians reported (default 3; --quick: 1)
  --base-ms MS   the backend's mean call time at up to 10 in flight (default 50: 200 calls/s;
                 bench/overload's 20 gives 500/s and 2.5x the requests per second)
  --no-pin       do not pin the server (core 1) and the load generator (core 0)
  --no-build     use packages/*/dist as they are
  --no-write     print the table only (--quick never writes)
  --lockstep     start every quiet tenant's second at the same instant, so their
                 requests arrive together (nine at once, 4 times a second); by
                 default each tenant's arrivals are shifted by 1/9 of its interval
`);
  process.exit(0);
}

const BASE_MS = Number(opts['base-ms'] ?? 50);
const CAPACITY = (10 * 1000) / BASE_MS; // calls per second at 10 in flight
const quick = opts.quick;
const duration = Number(opts.duration ?? (quick ? 3 : 10));
const rounds = Number(opts.rounds ?? (quick ? 1 : 3));
const write = !opts['no-write'] && !quick;
const log = (line) => process.stderr.write(`${line}\n`);
const QUIET = Array.from({ length: 9 }, (_, i) => `quiet-${i + 1}`);
const FLOOD_RATE = 5 * CAPACITY;
const QUIET_RATE = 0.02 * CAPACITY;
// Independent clients do not start their seconds together: each quiet tenant's
// arrivals are shifted by 1/9 of its interval from the previous tenant's
// (--lockstep: all at once, the worst case, where nine requests meet a full
// backend together and must be served one release at a time).
const lockstep = opts.lockstep;
const phaseOf = (tenant) =>
  lockstep || tenant === 'flood' ? 0 : (QUIET.indexOf(tenant) / QUIET.length) * (1000 / QUIET_RATE);
const SETUPS = [
  { id: 'global', server: 'global', flood: true, label: 'one global limit' },
  { id: 'fair', server: 'fair', flood: true, label: 'fair shares' },
  { id: 'baseline', server: 'fair', flood: false, label: 'quiet tenants alone' },
];

const hasTaskset = spawnSync('taskset', ['-c', '1', 'true']).status === 0;
const pin = !opts['no-pin'] && hasTaskset && cpus().length >= 2;
if (pin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

if (!opts['no-build']) {
  log('building @doorman/express and its dependencies ...');
  execFileSync('pnpm', ['--filter', '@doorman/express...', 'run', 'build'], {
    cwd: repoRoot,
    stdio: 'ignore',
  });
}

async function startServer(variant) {
  const args = [join(here, 'server.mjs'), variant, String(BASE_MS)];
  const command = pin ? 'taskset' : process.execPath;
  const child = spawn(command, pin ? ['-c', '1', process.execPath, ...args] : args, {
    cwd: benchDir,
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

/** One run: every tenant's open loop at once; returns what each saw. */
async function runOnce(setup) {
  const server = await startServer(setup.server);
  try {
    await burst(server.url, { amount: quick ? 1000 : 3000, connections: 100 });
    await sleep(500);
    await server.ask('reset');
    const tenants = setup.flood ? ['flood', ...QUIET] : QUIET;
    let peakInFlight = null;
    let quietWaits = [];
    const loads = await Promise.all(
      tenants.map((tenant, i) =>
        openLoop(server.url, {
          rate: tenant === 'flood' ? FLOOD_RATE : QUIET_RATE,
          duration,
          headers: { 'x-tenant': tenant },
          phaseMs: phaseOf(tenant),
          // Read before the connections close: a closed connection releases
          // the permit of a request still at the backend.
          atEnd:
            i === 0
              ? async () => {
                  ({ peakInFlight, quietWaits } = await server.ask('stats'));
                }
              : undefined,
        }),
      ),
    );
    const byTenant = new Map(tenants.map((t, i) => [t, loads[i]]));
    return { byTenant, peakInFlight, quietWaits };
  } finally {
    await server.stop();
  }
}

function summary({ byTenant, peakInFlight, quietWaits }) {
  const waits = Float64Array.from(quietWaits).sort();
  const quiet = QUIET.map((t) => byTenant.get(t));
  const ok = Float64Array.from(quiet.flatMap((l) => l.ok)).sort();
  const rejected = quiet.reduce((n, l) => n + Object.values(l.rejected).flat().length, 0);
  const failed = quiet.reduce((n, l) => n + l.timeouts + l.errors, 0);
  const answered = ok.length + rejected;
  const flood = byTenant.get('flood');
  const allOk = [...byTenant.values()].reduce((n, l) => n + l.ok.length, 0);
  return {
    quietRejectedPct:
      answered + failed === 0 ? 0 : (100 * (rejected + failed)) / (answered + failed),
    quietP50: quantile(ok, 0.5),
    quietP99: quantile(ok, 0.99),
    quietWaitP50: quantile(waits, 0.5),
    quietWaitP99: quantile(waits, 0.99),
    quietOkPerS: ok.length / duration,
    floodOkPerS: flood === undefined ? null : flood.ok.length / duration,
    goodputPerS: allOk / duration,
    peakInFlight,
  };
}

const started = performance.now();
const loadStart = loadavg();
const results = new Map(SETUPS.map((s) => [s.id, []]));
for (let round = 1; round <= rounds; round++) {
  for (const setup of SETUPS) {
    log(`round ${round}/${rounds}: ${setup.label} ...`);
    const s = summary(await runOnce(setup));
    log(`  ${JSON.stringify(s)}`);
    results.get(setup.id).push(s);
  }
}
const loadEnd = loadavg();
const med = (id, field) => {
  const values = results
    .get(id)
    .map((r) => r[field])
    .filter((v) => v !== null);
  return values.length === 0 ? null : median(values);
};

const f = (v, digits = 1) => (v === null ? '–' : v.toFixed(digits));
const md = [];
const la = (l) => l.map((v) => v.toFixed(2)).join(' / ');
const commit = gitCommit(repoRoot);
md.push(
  `Machine: ${cpus()[0]?.model.split(' ')[0] ?? '?'}, ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()}; Node ${process.version}; ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; commit ${commit}; ${pin ? 'server pinned to core 1, load generator to core 0' : 'not pinned'}; backend ${BASE_MS} ms ± 50% a call (${CAPACITY} calls/s at its best), flood ${FLOOD_RATE}/s, each quiet tenant ${QUIET_RATE}/s, ${lockstep ? 'all nine in lockstep (`--lockstep`)' : 'their arrivals staggered by 1/9 of an interval'}; load average ${la(loadStart)} at start, ${la(loadEnd)} at end. ${duration} s of load per run, ${rounds} round${rounds === 1 ? '' : 's'} (medians); the whole run took ${Math.round((performance.now() - started) / 1000)} s.`,
  '',
  `| server | quiet tenants: rejected | quiet 2xx p50 (ms) | quiet 2xx p99 (ms) | quiet wait for a permit in the server p50 / p99 (ms) | quiet 2xx/s | flooding tenant 2xx/s | goodput (2xx/s, % of ${CAPACITY}) | backend peak in flight |`,
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
);
for (const s of SETUPS) {
  const goodput = med(s.id, 'goodputPerS');
  md.push(
    `| ${s.label} | ${f(med(s.id, 'quietRejectedPct'), 2)}% | ${f(med(s.id, 'quietP50'))} | ${f(med(s.id, 'quietP99'))} | ${f(med(s.id, 'quietWaitP50'))} / ${f(med(s.id, 'quietWaitP99'))} | ${f(med(s.id, 'quietOkPerS'))} | ${f(med(s.id, 'floodOkPerS'))} | ${f(goodput, 0)} (${f((100 * goodput) / CAPACITY, 0)}%) | ${f(med(s.id, 'peakInFlight'), 0)} |`,
  );
}
const fairRejected = med('fair', 'quietRejectedPct');
const ratio = med('fair', 'quietP99') / med('baseline', 'quietP99');
const goodputPct = (100 * med('fair', 'goodputPerS')) / CAPACITY;
const verdict = (ok) => (ok ? '**met**' : '**not met**');
md.push(
  '',
  '#### Targets (issue 11), fair shares',
  '',
  `- Quiet tenants rejected <= 0.5%: ${f(fairRejected, 2)}%, ${verdict(fairRejected <= 0.5)} (one global limit: ${f(med('global', 'quietRejectedPct'), 1)}%).`,
  `- Quiet tenants' 2xx p99 within 1.5x of their baseline: ${f(med('fair', 'quietP99'))} ms against ${f(med('baseline', 'quietP99'))} ms, ${ratio.toFixed(2)}x, ${verdict(ratio <= 1.5)} (one global limit: ${(med('global', 'quietP99') / med('baseline', 'quietP99')).toFixed(2)}x).`,
  `- Total goodput >= 90% of capacity: ${f(goodputPct, 0)}%, ${verdict(goodputPct >= 90)}.`,
);
const markdown = md.join('\n');
process.stdout.write(`\n${markdown}\n`);

if (write) {
  const raw = Object.fromEntries([...results].map(([id, runs]) => [id, runs]));
  writeFileSync(
    join(benchDir, 'results', 'fairness.json'),
    `${JSON.stringify({ machine: md[0], duration, rounds, runs: raw }, null, 2)}\n`,
  );
  const path = join(benchDir, 'README.md');
  const START = '<!-- fairness-results:start -->';
  const END = '<!-- fairness-results:end -->';
  let readme = readFileSync(path, 'utf8');
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  const block = `${START}\n${markdown}\n${END}`;
  if (a !== -1 && b > a) readme = readme.slice(0, a) + block + readme.slice(b + END.length);
  else readme = `${readme.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, readme);
  log('wrote bench/results/fairness.json and the table in bench/README.md');
}
