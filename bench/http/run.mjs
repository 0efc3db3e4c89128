// HTTP overhead: autocannon against hello-world Express and Koa apps with no
// limiter, with doorman (limit high enough never to queue) and, for Express,
// with express-queue. Servers run in child processes and stay up for the
// whole run (warmed up once); rounds alternate between them and the table
// reports medians. Results go to bench/results/http.json.
//   pnpm bench http [--rounds 5] [--duration 5] [--connections 50]
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write('pnpm bench http [--rounds 5] [--duration 5] [--connections 50]\n');
  process.exit(0);
}
const rounds = Number(opts.rounds);
const duration = Number(opts.duration);
const connections = Number(opts.connections);

// Users run the built packages, so that is what we measure.
execFileSync(
  'pnpm',
  ['--filter', '@doorman/express...', '--filter', '@doorman/koa...', 'run', 'build'],
  {
    cwd: root,
    stdio: 'ignore',
  },
);

const targets = [
  ['express', 'none'],
  ['express', 'doorman'],
  ['express', 'express-queue'],
  ['koa', 'none'],
  ['koa', 'doorman'],
];

async function start(framework, variant) {
  const child = spawn(process.execPath, [join(here, 'server.mjs'), framework, variant], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = await once(child.stdout, 'data');
  return { framework, variant, child, url: `http://127.0.0.1:${Number(String(chunk).trim())}/` };
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

const servers = [];
for (const [framework, variant] of targets) servers.push(await start(framework, variant));
for (const server of servers) await load(server.url, 2); // warm-up

const samples = new Map(servers.map((s) => [s, []]));
for (let round = 1; round <= rounds; round++) {
  // Alternate the order each round so no server always runs first or last.
  const order = round % 2 ? servers : [...servers].reverse();
  for (const server of order) {
    const r = await load(server.url, duration);
    if (r.errors || r.non2xx) throw new Error(`${server.framework}/${server.variant}: errors`);
    samples.get(server).push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 });
    process.stderr.write(
      `round ${round} ${server.framework}/${server.variant}: ${Math.round(r.requests.average)} req/s\n`,
    );
  }
}
for (const server of servers) {
  server.child.kill('SIGTERM');
  await once(server.child, 'exit');
}

const rows = servers.map((server) => {
  const s = samples.get(server);
  return {
    framework: server.framework,
    variant: server.variant,
    rps: median(s.map((x) => x.rps)),
    p50: median(s.map((x) => x.p50)),
    p99: median(s.map((x) => x.p99)),
    rounds: s.map((x) => Math.round(x.rps)),
  };
});
const base = (framework) => rows.find((r) => r.framework === framework && r.variant === 'none');
let table = '| framework | limiter | req/s (median) | vs no limiter | p50 ms | p99 ms |\n';
table += '|---|---|---:|---:|---:|---:|\n';
for (const r of rows) {
  const delta = ((r.rps / base(r.framework).rps - 1) * 100).toFixed(1);
  table += `| ${r.framework} | ${r.variant} | ${Math.round(r.rps)} | ${r.variant === 'none' ? '—' : `${delta}%`} | ${r.p50} | ${r.p99} |\n`;
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
mkdirSync(join(here, '..', 'results'), { recursive: true });
writeFileSync(
  join(here, '..', 'results', 'http.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine, rounds, duration, connections, rows }, null, 2)}\n`,
);
const summary = `${new Date().toISOString().slice(0, 10)}, ${machine}; ${rounds} rounds × ${duration} s, ${connections} connections, medians (req/s of each round in results/http.json)`;
process.stdout.write(`\n${summary}\n\n${table}`);

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
    `${text.slice(0, i + startMark.length)}\n${summary}\n\n${table}${text.slice(j)}`,
  );
}
