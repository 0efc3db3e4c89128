// The built doorman packages a benchmark measures, copied aside.
//
// Users run the built packages (dist), so that is what the HTTP benchmarks
// load. The build is copied to a temporary folder for the run, so that a
// rebuild elsewhere in the workspace halfway through (it empties dist/ first)
// cannot pull it from under a server. Each copied package finds its
// third-party dependencies through links to the ones the workspace installed
// (the bench's own copy first, so a framework is the one the servers load).
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = dirname(benchDir);

/** Whether the workspace has this package (`@doorman/<name>`). */
export function hasPackage(name) {
  return existsSync(join(repoRoot, 'packages', name, 'package.json'));
}

/**
 * Builds `@doorman/<name>` for each name (and what they depend on), unless
 * `build` is false, and copies their dist. Returns `{ dir, entry(name) }`:
 * `dir` holds `node_modules/@doorman/*`; the folder is removed when the
 * process exits. Retries a few times if a concurrent build got in the way; then throws, saying why.
 */
export async function snapshotPackages(names, { build = true, log = () => {} } = {}) {
  for (let attempt = 1; ; attempt++) {
    if (build) {
      log(`building ${names.map((n) => `@doorman/${n}`).join(', ')} ...`);
      try {
        execFileSync(
          'pnpm',
          names.flatMap((n) => ['--filter', `@doorman/${n}...`]).concat(['run', 'build']),
          { cwd: repoRoot, stdio: 'ignore' },
        );
      } catch (error) {
        if (attempt >= 3) throw error;
        continue;
      }
    }
    const snapshot = copy(names);
    if (typeof snapshot === 'string') {
      if (attempt >= 3) {
        throw new Error(
          `could not take a working copy of the dist of ${names.join(', ')}: ${snapshot}`,
        );
      }
    } else {
      process.on('exit', () => rmSync(snapshot.dir, { recursive: true, force: true }));
      return snapshot;
    }
    await sleep(2000);
  }
}

function copy(names) {
  const dir = mkdtempSync(join(tmpdir(), 'doorman-bench-'));
  const modules = join(dir, 'node_modules');
  const entry = (name) => join(modules, '@doorman', name, 'dist', 'esm', 'index.js');
  const copied = new Set();
  const linked = new Set();
  const take = (name) => {
    if (copied.has(name)) return;
    copied.add(name);
    const from = join(repoRoot, 'packages', name);
    const to = join(modules, '@doorman', name);
    mkdirSync(to, { recursive: true });
    cpSync(join(from, 'package.json'), join(to, 'package.json'));
    cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true });
    const pkg = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'));
    const deps = { ...pkg.peerDependencies, ...pkg.dependencies };
    for (const dep of Object.keys(deps)) {
      if (dep.startsWith('@doorman/')) take(dep.slice('@doorman/'.length));
      else if (!dep.startsWith('@types/') && !linked.has(dep)) {
        const found = [join(benchDir, 'node_modules', dep), join(from, 'node_modules', dep)].find(
          (p) => existsSync(p),
        );
        if (found === undefined) continue; // an optional peer nobody installed
        linked.add(dep);
        mkdirSync(dirname(join(modules, dep)), { recursive: true });
        symlinkSync(realpathSync(found), join(modules, dep), 'dir');
      }
    }
  };
  let why;
  try {
    for (const name of names) take(name);
    // Each entry must load: a half-written dist (a build running elsewhere) does not.
    const check = spawnSync(process.execPath, [
      '--input-type=module',
      '-e',
      names.map((n) => `await import(${JSON.stringify(pathToFileURL(entry(n)).href)});`).join(''),
    ]);
    if (check.status !== 0) why = String(check.stderr).trim().split('\n').slice(0, 5).join(' ');
  } catch (error) {
    why = String(error);
  }
  if (why !== undefined) {
    rmSync(dir, { recursive: true, force: true });
    return why;
  }
  return { dir, entry };
}
