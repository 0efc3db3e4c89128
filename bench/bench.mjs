// `pnpm bench [suite ...] [-- options]`: runs each benchmark suite under bench/,
// one after the other. A suite is a folder with an entry file (run.mjs, or
// run.ts run through tsx); `pnpm bench` runs all of them, `pnpm bench semaphore`
// only that one. Options after the suite names are handed to every suite.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ENTRIES = ['run.mjs', 'run.ts', 'index.mjs', 'index.ts'];
const FIRST = ['semaphore', 'http', 'redis', 'overload'];

const suites = new Map();
for (const d of readdirSync(here, { withFileTypes: true })) {
  if (!d.isDirectory() || d.name === 'node_modules' || d.name === 'results') continue;
  const entry = ENTRIES.find((f) => existsSync(join(here, d.name, f)));
  if (entry !== undefined) suites.set(d.name, join(here, d.name, entry));
}
const order = [...suites.keys()].sort((a, b) => {
  const ia = FIRST.indexOf(a);
  const ib = FIRST.indexOf(b);
  return (ia === -1 ? FIRST.length : ia) - (ib === -1 ? FIRST.length : ib) || a.localeCompare(b);
});

const args = process.argv.slice(2);
if (args[0] === '--') args.shift();
const names = [];
while (args.length > 0 && !args[0].startsWith('-')) names.push(args.shift());
if (args[0] === '--') args.shift();

if (names.length === 0 && (args.includes('--help') || args.includes('-h'))) {
  process.stdout.write(
    `pnpm bench [suite ...] [options]\n\nsuites: ${order.join(', ') || '(none)'}\n` +
      'With no suite named, every suite runs. `pnpm bench <suite> --help` shows its options.\n',
  );
  process.exit(0);
}
for (const name of names) {
  if (!suites.has(name)) {
    process.stderr.write(`no benchmark "${name}" under bench/ (have: ${order.join(', ')})\n`);
    process.exit(2);
  }
}

let failed = 0;
for (const name of names.length > 0 ? names : order) {
  const entry = suites.get(name);
  const runner = entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry];
  process.stderr.write(`\n== bench ${name}\n`);
  const r = spawnSync(process.execPath, [...runner, ...args], { cwd: here, stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`== bench ${name} failed (${r.status ?? r.signal})\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
