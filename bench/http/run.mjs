// HTTP overhead: autocannon against hello-world Express, Koa and Fastify apps,
// each with no middleware, with an empty middleware (the price of any
// middleware at all), with doorman (a limit high enough never to queue), and
// for Express also with doorman's guard in front and with express-queue.
// Servers run in child processes (pinned to core 1, the load generator to
// core 0) and stay up for the whole run, warmed up once; each round runs
// every server, a framework's servers back to back in a rotating order, so
// each is compared with its framework's no-limiter run of the same round.
// Results go to bench/results/http.json and the table in bench/README.md.
//   pnpm bench http [--rounds 7] [--duration 5] [--connections 50] [--quick]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { gitCommit } from '../git-commit.mjs';
import { hasPackage, snapshotPackages } from '../snapshot.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '50' },
    'no-pin': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`pnpm bench http [options]

  --rounds N          rounds; each server runs once per round (default 7; --quick: 2)
  --duration S        seconds of load per server and round (default 5; --quick: 2)
  --connections N     autocannon connections (default 50)
  --no-pin            do not pin the servers (core 1) and the load generator (core 0)
  --no-build          use packages/*/dist as they are
  --quick             a short smoke run; writes nothing
`);
  process.exit(0);
}
const quick = opts.quick;
const rounds = Number(opts.rounds ?? (quick ? 2 : 7));
const duration = Number(opts.duration ?? (quick ? 2 : 5));
const connections = Number(opts.connections);
const log = (line) => process.stderr.write(`${line}\n`);
const started = performance.now();

const withFastifyAdapter = hasPackage('fastify');
const targets = [
  ['express', 'none'],
  ['express', 'empty'],
  ['express', 'doorman'],
  ['express', 'guard'],
  ['express', 'express-queue'],
  ['koa', 'none'],
  ['koa', 'empty'],
  ['koa', 'doorman'],
  ['fastify', 'none'],
  ['fastify', 'empty'],
  ...(withFastifyAdapter ? [['fastify', 'doorman']] : []),
];
const LABELS = {
  none: 'none',
  empty: 'empty middleware (only calls next)',
  doorman: 'doorman',
  guard: 'doorman guard (in front of the app)',
  'express-queue': 'express-queue',
};

// Every server is a child of this process: none outlives it, and the run
// stops by itself if something hangs.
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`http: ${signal}, stopping`);
    process.exit(130);
  });
}
const maxMs = (targets.length * (rounds + 1) * (duration + 5) + 300) * 1000;
setTimeout(() => {
  log(`http: still running after ${Math.round(maxMs / 60_000)} minutes; stopping`);
  process.exit(1);
}, maxMs).unref();

const hasTaskset = spawnSync('taskset', ['-c', '1', 'true']).status === 0;
const pin = !opts['no-pin'] && hasTaskset && cpus().length >= 2;
if (pin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

// Users run the built packages (dist), copied aside for the run.
const snapshot = await snapshotPackages(
  ['express', 'koa', 'http', ...(withFastifyAdapter ? ['fastify'] : [])],
  { build: !opts['no-build'], log },
);

async function start(framework, variant) {
  const args = [join(here, 'server.mjs'), framework, variant];
  const options = {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, DOORMAN_PACKAGES: snapshot.dir },
  };
  const child = pin
    ? spawn('taskset', ['-c', '1', process.execPath, ...args], options)
    : spawn(process.execPath, args, options);
  children.add(child);
  child.on('exit', () => children.delete(child));
  const [message] = await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(() => {
      throw new Error(`${framework}/${variant}: the server exited before listening`);
    }),
  ]);
  return { framework, variant, child, url: `http://127.0.0.1:${message.port}/` };
}

function load(url, seconds) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds, pipelining: 1 }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const loadAvgStart = loadavg();
const servers = [];
for (const [framework, variant] of targets) servers.push(await start(framework, variant));
for (const server of servers) await load(server.url, quick ? 1 : 2); // warm-up

const frameworks = [...new Set(servers.map((s) => s.framework))];
const samples = new Map(servers.map((s) => [s, []]));
for (let round = 0; round < rounds; round++) {
  // A framework's servers run back to back, so a busy moment of the machine
  // falls on a server and the no-limiter run it is compared with alike; the
  // order rotates from round to round, within each framework and across them.
  const fw = frameworks
    .slice(round % frameworks.length)
    .concat(frameworks.slice(0, round % frameworks.length));
  for (const framework of fw) {
    const group = servers.filter((s) => s.framework === framework);
    const shift = round % group.length;
    for (const server of group.slice(shift).concat(group.slice(0, shift))) {
      const r = await load(server.url, duration);
      if (r.errors || r.non2xx) {
        throw new Error(
          `${server.framework}/${server.variant}: ${r.errors} errors, ${r.non2xx} non-2xx`,
        );
      }
      samples.get(server).push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 });
      log(
        `round ${round + 1} ${server.framework}/${server.variant}: ${Math.round(r.requests.average)} req/s`,
      );
    }
  }
}
for (const server of servers) {
  server.child.kill('SIGTERM');
  await once(server.child, 'exit');
}
const loadAvgEnd = loadavg();

const byKey = (framework, variant) =>
  servers.find((s) => s.framework === framework && s.variant === variant);
const rows = servers.map((server) => {
  const s = samples.get(server);
  const base = samples.get(byKey(server.framework, 'none'));
  // Paired: this server's rate over its framework's no-limiter rate in the same round.
  const ratios = s.map((x, i) => x.rps / base[i].rps);
  return {
    framework: server.framework,
    variant: server.variant,
    rps: median(s.map((x) => x.rps)),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    p50: median(s.map((x) => x.p50)),
    p99: median(s.map((x) => x.p99)),
    rounds: s.map((x) => Math.round(x.rps)),
  };
});
const pct = (r) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`;
let table =
  '| framework | limiter | req/s (median) | vs no limiter, paired (median) | range over rounds | p50 ms | p99 ms |\n';
table += '|---|---|---:|---:|---:|---:|---:|\n';
for (const r of rows) {
  const none = r.variant === 'none';
  table += `| ${r.framework} | ${LABELS[r.variant]} | ${Math.round(r.rps)} | ${none ? '—' : pct(r.ratio)} | ${none ? '—' : `${pct(r.ratioMin)} … ${pct(r.ratioMax)}`} | ${r.p50} | ${r.p99} |\n`;
}
// A verdict needs rounds that agree: when the paired ratios of a server spread
// over more than 10 points, the machine's noise is larger than the 3% asked
// about, and the run says so instead of calling it.
const NOISE = 0.1;
let verdicts =
  '\n| target: doorman at most 3% fewer req/s than no limiter | met | measured (paired median, range over rounds) |\n|---|---|---|\n';
for (const r of rows) {
  if (r.variant !== 'doorman' && r.variant !== 'guard') continue;
  const empty = rows.find((x) => x.framework === r.framework && x.variant === 'empty');
  const spread = r.ratioMax - r.ratioMin;
  const met =
    spread > NOISE ? 'undecided (rounds spread too wide)' : r.ratio >= 0.97 ? 'yes' : '**no**';
  verdicts += `| ${r.framework}, ${LABELS[r.variant]} | ${met} | ${pct(r.ratio)}, ${pct(r.ratioMin)} … ${pct(r.ratioMax)}${empty === undefined ? '' : ` (an empty middleware: ${pct(empty.ratio)})`} |\n`;
}
const durationS = Math.round((performance.now() - started) / 1000);
const machine = {
  cpu: cpus()[0]?.model ?? 'cpu',
  cpus: cpus().length,
  node: process.version,
  pinned: pin,
  loadAvgStart: loadAvgStart.map((v) => Number(v.toFixed(2))),
  loadAvgEnd: loadAvgEnd.map((v) => Number(v.toFixed(2))),
};
const commit = gitCommit(root);
const summary =
  `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit}; ${machine.cpus} × ${machine.cpu} (nproc ${machine.cpus}), Node ${process.version}; ` +
  `${pin ? 'servers pinned to core 1, autocannon to core 0' : 'not pinned'}; load average ${machine.loadAvgStart.join(' / ')} at start, ${machine.loadAvgEnd.join(' / ')} at end; ` +
  `${rounds} rounds × ${duration} s per server, ${connections} connections; the run took ${durationS} s (req/s of each round in results/http.json)`;
process.stdout.write(`\n${summary}\n\n${table}${verdicts}`);
if (quick) {
  log('quick run: nothing written');
  process.exit(0);
}
mkdirSync(join(here, '..', 'results'), { recursive: true });
writeFileSync(
  join(here, '..', 'results', 'http.json'),
  `${JSON.stringify({ date: new Date().toISOString(), commit, machine, rounds, duration, connections, rows }, null, 2)}\n`,
);

// The table in bench/README.md lives between two markers; replace it there.
const readme = join(here, '..', 'README.md');
const text = readFileSync(readme, 'utf8');
const startMark = '<!-- http-results:start -->';
const endMark = '<!-- http-results:end -->';
const i = text.indexOf(startMark);
const j = text.indexOf(endMark);
if (i !== -1 && j > i) {
  writeFileSync(
    readme,
    `${text.slice(0, i + startMark.length)}\n${summary}\n\n${table}${verdicts}${text.slice(j)}`,
  );
}
