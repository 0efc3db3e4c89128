// Checks what `pnpm publish` would put on the registry, after `pnpm build`:
//   1. a dry-run publish of every package (`pnpm publish -r --dry-run`), which
//      must list each public package under packages/;
//   2. publint (--strict: warnings fail too) on each packed tarball: the
//      package.json fields against the files that are really in it;
//   3. Are the Types Wrong (attw, strict profile) on each packed tarball: the
//      types TypeScript finds from ESM, from CommonJS, under node10 (through
//      typesVersions for subpaths) and with a bundler, against the JavaScript
//      Node loads. Rules it should not apply go in .attw.json, each with why.
// CI runs it (.ci/run); `pnpm check-packages` runs it by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Root devDependencies, linked into the root node_modules by pnpm.
const bin = (name, path) => join(root, 'node_modules', name, path);
const publint = bin('publint', 'src/cli.js');
const attw = bin('@arethetypeswrong/cli', 'dist/index.js');

const packages = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => join(root, 'packages', entry.name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => manifest.private !== true)
  .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));

const failures = [];

/** Runs a command, echoing its output; returns it, or records a failure. */
function run(label, command, args, cwd = root) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0', npm_config_update_notifier: 'false' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0) {
    failures.push(label);
    console.log(`✗ ${label}\n${output}`);
  }
  return output;
}

for (const { dir, manifest } of packages) {
  if (!existsSync(join(dir, 'dist'))) {
    console.error(`${manifest.name} has no dist/: run \`pnpm build\` first.`);
    process.exit(1);
  }
}

// 1. The dry-run publish of the whole workspace.
const published = run('pnpm publish -r --dry-run', 'pnpm', [
  'publish',
  '-r',
  '--dry-run',
  '--no-git-checks',
  '--filter',
  './packages/*',
]);
for (const { manifest } of packages) {
  const line = `+ ${manifest.name}@${manifest.version}`;
  if (published.split('\n').some((l) => l.trim() === line)) console.log(`✓ ${line} (dry run)`);
  else {
    failures.push(`dry-run publish of ${manifest.name}`);
    console.log(`✗ the dry-run publish did not list ${line}:\n${published}`);
  }
}

// 2 and 3. publint and attw on each tarball, packed as a publish packs it.
const work = mkdtempSync(join(tmpdir(), 'doorman-check-packages-'));
try {
  for (const { dir, manifest } of packages) {
    const destination = join(work, manifest.name.replace('/', '+'));
    run(`pnpm pack ${manifest.name}`, 'pnpm', ['pack', '--pack-destination', destination], dir);
    const tarball = readdirSync(destination).find((file) => file.endsWith('.tgz'));
    if (tarball === undefined) continue;
    const packed = join(destination, tarball);
    const lint = run(`publint ${manifest.name}`, process.execPath, [
      publint,
      'run',
      packed,
      '--strict',
    ]);
    if (!failures.includes(`publint ${manifest.name}`)) {
      console.log(`✓ publint ${manifest.name}${lint.includes('All good') ? '' : `\n${lint}`}`);
    }
    // Our packages ship their own types: no @types lookup on the registry.
    run(
      `attw ${manifest.name}`,
      process.execPath,
      [
        attw,
        packed,
        '--profile',
        'strict',
        '--no-definitely-typed',
        '--format',
        'table',
        '--no-emoji',
        '--no-color',
      ],
      root,
    );
    if (!failures.includes(`attw ${manifest.name}`)) console.log(`✓ attw ${manifest.name}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`\n${failures.length} check(s) failed: ${failures.join(', ')}`);
  process.exit(1);
}
console.log(`\nAll ${packages.length} packages pass the dry-run publish, publint and attw.`);
