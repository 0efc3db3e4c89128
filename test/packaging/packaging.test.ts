// The packaging test: what a user gets from the registry, not what the
// workspace sees. Every publishable package under packages/ is built, packed
// with `pnpm pack`, and installed from its tarball with npm, as a user would
// (`npm install <tarballs> <peers>`: each peer by its bare name, so its newest
// release, and no flag that loosens peer checks), into a throwaway consumer
// project outside the workspace; `npm ls` must then be clean. The consumer
// loads each package and each of its subpath exports
//   - by `import` (an ES module consumer, "type": "module"),
//   - by `require()` under `node --no-experimental-require-module` (true CommonJS),
//   - from `tsc` with module/moduleResolution NodeNext, in a .mts and a .cts file,
//     and from an older CommonJS setup (moduleResolution node10),
// and runs the package's own checks from fixtures/<package folder>/ when it has them:
//   esm.mjs, cjs.cjs   run by node
//   types.mts, types.cts   type-checked with the others, then compiled and run.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = join(root, 'test/packaging/fixtures');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  main?: string;
  module?: string;
  types?: string;
  exports?: Record<string, unknown>;
  typesVersions?: Record<string, Record<string, string[]>>;
  files?: string[];
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  license?: string;
  keywords?: string[];
  publishConfig?: { access?: string };
}

interface Pkg {
  /** Folder name under packages/, also the fixtures folder name. */
  dir: string;
  manifest: Manifest;
  /** Filled in by the setup. */
  tarball: string;
  packed: Manifest;
  files: string[];
}

/** Every library some package takes as a peer: a keyword naming one promises it works with it. */
const peerLibraries = ['express', 'koa', 'fastify', 'ioredis', 'prom-client'];

const major = (version: string) => Number(version.split('.')[0]);

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

// Discovered when the file loads, so each package gets its own tests.
const packages: Pkg[] = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
  .sort()
  .map((dir) => ({
    dir,
    manifest: readJson<Manifest>(join(root, 'packages', dir, 'package.json')),
    tarball: '',
    packed: { name: '', version: '' },
    files: [],
  }))
  .filter((pkg) => pkg.manifest.private !== true);

/** `@doorman/semaphore` plus each subpath export: `@doorman/semaphore/internal`. */
function specifiers(pkg: Pkg): string[] {
  const exports = pkg.packed.exports;
  if (exports === undefined) return [pkg.packed.name];
  return Object.keys(exports)
    .filter((key) => key !== './package.json' && !key.includes('*'))
    .map((key) => (key === '.' ? pkg.packed.name : `${pkg.packed.name}/${key.slice(2)}`));
}

/** Every file an `exports` map points at, under any condition. */
function exportTargets(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) exportTargets(inner, out);
  }
  return out;
}

// Consumers must not inherit the workspace's settings: pnpm's npm_* variables,
// or a NODE_OPTIONS that would point imports at the TypeScript sources.
const keptNpmVariables =
  /^npm_config_(registry|cache|userconfig|globalconfig|https?_proxy|proxy|noproxy|no_proxy|strict_ssl|cafile|ca)$/i;
function consumerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_)/i.test(key) && !keptNpmVariables.test(key)) continue;
    if (key === 'NODE_OPTIONS' || key === 'VITEST' || key.startsWith('VITEST_')) continue;
    env[key] = value;
  }
  env['npm_config_update_notifier'] = 'false';
  return env;
}

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  cwd: string,
  timeoutMs = 150_000,
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      command,
      args,
      { cwd, env: consumerEnv(), maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(
              `\`${command} ${args.join(' ')}\` in ${cwd} failed: ${error.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
            ),
          );
        } else resolvePromise({ stdout, stderr });
      },
    );
  });
}

const node = (args: string[], cwd: string) => run(process.execPath, args, cwd);

let work = '';
let consumer = '';
/** The peer dependencies (and their @types) installed by bare name. */
let installedPeers: string[] = [];
let installOutput: RunResult = { stdout: '', stderr: '' };

describe('packed packages in a consumer project', () => {
  beforeAll(async () => {
    expect(packages.map((pkg) => pkg.manifest.name)).toContain('@doorman/semaphore');
    work = mkdtempSync(join(tmpdir(), 'doorman-packaging-'));
    consumer = join(work, 'consumer');
    mkdirSync(consumer);

    // A fresh clone has no dist/: build first, as a publish would.
    await run('pnpm', ['-r', '--filter', './packages/*', 'run', 'build'], root);

    for (const pkg of packages) {
      const destination = join(work, 'packs', pkg.dir);
      mkdirSync(destination, { recursive: true });
      await run(
        'pnpm',
        ['pack', '--pack-destination', destination],
        join(root, 'packages', pkg.dir),
      );
      const tarballs = readdirSync(destination).filter((file) => file.endsWith('.tgz'));
      expect(tarballs, `one tarball for ${pkg.dir}`).toHaveLength(1);
      pkg.tarball = join(destination, tarballs[0] as string);
      const listing = await run('tar', ['-tzf', pkg.tarball], work);
      pkg.files = listing.stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.replace(/^package\//, ''));
      const manifest = await run('tar', ['-xzOf', pkg.tarball, 'package/package.json'], work);
      pkg.packed = JSON.parse(manifest.stdout) as Manifest;
    }

    // What to install, as a user would: the tarballs, and every peer
    // dependency by its bare name, so npm takes the newest release (its
    // `latest`: express 5, koa 3, the newest ioredis and prom-client) and
    // must find it inside our peer range. The @types package of a peer comes
    // the same way (so `tsc` sees the peer's types), and @types/node at the
    // workspace's range, as the oldest Node we support.
    const rootManifest = readJson<Manifest & { devDependencies: Record<string, string> }>(
      join(root, 'package.json'),
    );
    const peers = new Set<string>();
    const ownNames = new Set(packages.map((pkg) => pkg.packed.name));
    for (const pkg of packages) {
      for (const name of Object.keys(pkg.packed.peerDependencies ?? {})) {
        if (ownNames.has(name)) continue;
        peers.add(name);
        if (name.startsWith('@types/')) continue;
        const typesName = `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;
        if (rootManifest.devDependencies[typesName] !== undefined) peers.add(typesName);
      }
    }
    peers.delete('@types/node');
    installedPeers = [...peers].sort();

    writeFileSync(
      join(consumer, 'package.json'),
      `${JSON.stringify({ name: 'doorman-consumer', version: '0.0.0', private: true, type: 'module' }, null, 2)}\n`,
    );
    // No flags that loosen peer checks (--legacy-peer-deps, --force).
    // npm settles a peer conflict it can by taking an older peer and only
    // warning ("ERESOLVE overriding peer dependency"): a warning here fails too.
    installOutput = await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        ...packages.map((pkg) => pkg.tarball),
        ...installedPeers,
        `@types/node@${rootManifest.devDependencies['@types/node'] ?? '^20'}`,
      ],
      consumer,
    );

    // Generic entry points that touch every export of every package, and the
    // packages' own fixtures.
    const all = packages.flatMap(specifiers);
    writeFileSync(
      join(consumer, 'load-all.mjs'),
      `const out = {};\nfor (const spec of ${JSON.stringify(all)}) out[spec] = Object.keys(await import(spec)).sort();\nconsole.log(JSON.stringify(out));\n`,
    );
    writeFileSync(
      join(consumer, 'load-all.cjs'),
      `const out = {};\nfor (const spec of ${JSON.stringify(all)}) out[spec] = Object.keys(require(spec)).sort();\nconsole.log(JSON.stringify(out));\n`,
    );
    const sources = new Map<Pkg, string[]>(packages.map((pkg) => [pkg, []]));
    const node10: string[] = [];
    let index = 0;
    for (const pkg of packages) {
      for (const spec of specifiers(pkg)) {
        for (const ext of ['mts', 'cts']) {
          const file = `generic-${index}.${ext}`;
          writeFileSync(
            join(consumer, file),
            `import * as m from '${spec}';\nexport const names: string[] = Object.keys(m);\n`,
          );
          sources.get(pkg)?.push(file);
        }
        // The same from a CommonJS project on TypeScript's older resolution
        // (module commonjs, moduleResolution node10), which ignores `exports`.
        mkdirSync(join(consumer, 'node10'), { recursive: true });
        writeFileSync(
          join(consumer, 'node10', `generic-${index}.ts`),
          `import * as m from '${spec}';\nexport const names: string[] = Object.keys(m);\n`,
        );
        node10.push(`generic-${index}.ts`);
        index++;
      }
      const own = join(fixtures, pkg.dir);
      if (!existsSync(own)) continue;
      const target = join(consumer, 'fixtures', pkg.dir);
      cpSync(own, target, { recursive: true });
      for (const file of readdirSync(target)) {
        if (/\.[mc]ts$/.test(file)) sources.get(pkg)?.push(`fixtures/${pkg.dir}/${file}`);
      }
    }
    // Three projects. "strict" checks the declarations themselves
    // (skipLibCheck off) for the packages with no peer dependencies: third
    // party @types installed flat by npm do not always check cleanly (for
    // instance @types/koa against the typed content-disposition 1.x that koa
    // brings), and that is none of our business. "all" covers every package
    // with the setting most apps use, and emits JavaScript that is then run.
    // "node10" is the older CommonJS setup, where only `types` and
    // `typesVersions` lead to the declarations of the package and its subpaths.
    const tsconfig = (files: string[], extra: Record<string, unknown>) =>
      `${JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            types: ['node'],
            ...extra,
          },
          files,
        },
        null,
        2,
      )}\n`;
    const standalone = packages.filter(
      (pkg) => Object.keys(pkg.packed.peerDependencies ?? {}).length === 0,
    );
    writeFileSync(
      join(consumer, 'tsconfig.strict.json'),
      tsconfig(
        standalone.flatMap((pkg) => sources.get(pkg) ?? []),
        { skipLibCheck: false, noEmit: true },
      ),
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      tsconfig(
        packages.flatMap((pkg) => sources.get(pkg) ?? []),
        { skipLibCheck: true, outDir: 'out', rootDir: '.' },
      ),
    );
    writeFileSync(
      join(consumer, 'node10', 'tsconfig.json'),
      tsconfig(node10, {
        module: 'commonjs',
        moduleResolution: 'node10',
        skipLibCheck: true,
        noEmit: true,
      }),
    );
  }, 300_000);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  for (const pkg of packages) {
    describe(pkg.manifest.name, () => {
      it('ships its README, CHANGELOG and the LICENSE', async () => {
        expect(pkg.files, `packages/${pkg.dir}/README.md is packed`).toContain('README.md');
        expect(pkg.files, `packages/${pkg.dir}/CHANGELOG.md is packed`).toContain('CHANGELOG.md');
        expect(pkg.files, `packages/${pkg.dir}/LICENSE is packed`).toContain('LICENSE');
        const license = await run('tar', ['-xzOf', pkg.tarball, 'package/LICENSE'], work);
        expect(license.stdout).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
        expect(pkg.packed.license).toBe('MIT');
        const changelog = await run('tar', ['-xzOf', pkg.tarball, 'package/CHANGELOG.md'], work);
        expect(changelog.stdout.startsWith(`# ${pkg.manifest.name}\n`)).toBe(true);
      });

      it('is published with public access, and its keywords name its peers and no others', () => {
        // A scoped package is private on the registry unless told otherwise.
        if (pkg.manifest.name.startsWith('@')) {
          expect(pkg.manifest.publishConfig?.access).toBe('public');
        }
        const keywords = pkg.packed.keywords ?? [];
        const peers = Object.keys(pkg.packed.peerDependencies ?? {}).filter(
          (name) => !name.startsWith('@types/'),
        );
        for (const peer of peers) expect(keywords, `a keyword for ${peer}`).toContain(peer);
        for (const library of peerLibraries) {
          if (!peers.includes(library)) {
            expect(keywords, `${library} is not a peer`).not.toContain(library);
          }
        }
      });

      it('packs every file its package.json points at, and nothing of the workspace', () => {
        const { packed, files } = pkg;
        expect(packed.name).toBe(pkg.manifest.name);
        expect(packed.engines?.['node']).toMatch(/>=\s*20/);
        expect(packed.exports, 'an exports map').toBeDefined();
        const pointed = [
          packed.main,
          packed.module,
          packed.types,
          ...exportTargets(packed.exports),
          ...Object.values(packed.typesVersions ?? {})
            .flatMap((paths) => Object.values(paths).flat())
            .filter((target) => !target.includes('*')),
        ];
        for (const target of pointed) {
          if (target === undefined) continue;
          expect(files, `${target} is in the tarball`).toContain(target.replace(/^\.\//, ''));
        }
        for (const file of files) {
          expect(file).not.toMatch(
            /(^|\/)(test|node_modules)\/|\.tsbuildinfo$|\.test\.[cm]?[jt]s$/,
          );
        }
        // Both builds, each marked with its module system.
        expect(files).toContain('dist/esm/package.json');
        expect(files).toContain('dist/cjs/package.json');
        for (const deps of [packed.dependencies, packed.peerDependencies]) {
          for (const range of Object.values(deps ?? {})) expect(range).not.toMatch(/^workspace:/);
        }
      });
    });
  }

  it('installs with npm and the newest majors of its peers: `npm ls` is clean, and so is the next install', async () => {
    const problems = /ERESOLVE|invalid|missing|UNMET|extraneous|ELSPROBLEMS/i;
    expect(`${installOutput.stdout}${installOutput.stderr}`).not.toMatch(problems);
    const ls = await run('npm', ['ls', '--all'], consumer);
    expect(`${ls.stdout}${ls.stderr}`).not.toMatch(problems);
    for (const peer of installedPeers) {
      const { version } = readJson<Manifest>(join(consumer, 'node_modules', peer, 'package.json'));
      const latest = (await run('npm', ['view', `${peer}@latest`, 'version'], consumer)).stdout;
      expect(major(version), `${peer}@${version} installed, ${latest.trim()} is the newest`).toBe(
        major(latest.trim()),
      );
    }
    // The install after this one, where a peer outside a range fails (ERESOLVE).
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], consumer);
    const again = await run('npm', ['ls', '--all'], consumer);
    expect(`${again.stdout}${again.stderr}`).not.toMatch(problems);
  }, 120_000);

  it('loads every export by import() and by require() (no require(esm)), with the same names', async () => {
    const esm = JSON.parse((await node(['load-all.mjs'], consumer)).stdout) as Record<
      string,
      string[]
    >;
    const cjs = JSON.parse(
      (await node(['--no-experimental-require-module', 'load-all.cjs'], consumer)).stdout,
    ) as Record<string, string[]>;
    for (const spec of packages.flatMap(specifiers)) {
      expect(esm[spec], `${spec} by import`).not.toHaveLength(0);
      expect(cjs[spec], `${spec} by require`).toEqual(esm[spec]);
    }
  }, 60_000);

  it('runs each package’s own checks by import and by require()', async () => {
    let ran = 0;
    for (const pkg of packages) {
      const dir = join(consumer, 'fixtures', pkg.dir);
      if (!existsSync(dir)) continue;
      for (const file of readdirSync(dir)) {
        if (file.endsWith('.mjs')) {
          expect((await node([file], dir)).stdout).toContain('ok');
          ran++;
        } else if (file.endsWith('.cjs')) {
          expect((await node(['--no-experimental-require-module', file], dir)).stdout).toContain(
            'ok',
          );
          ran++;
        }
      }
    }
    expect(ran).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('type-checks with tsc (NodeNext as .mts and .cts, and node10), and the output runs', async () => {
    await Promise.all([
      node([tsc, '-p', 'tsconfig.strict.json'], consumer),
      node([tsc, '-p', 'tsconfig.json'], consumer),
      node([tsc, '-p', 'node10/tsconfig.json'], consumer),
    ]);
    const out = join(consumer, 'out');
    let ran = 0;
    for (const pkg of packages) {
      const dir = join(out, 'fixtures', pkg.dir);
      if (!existsSync(dir)) continue;
      for (const file of readdirSync(dir)) {
        if (file.endsWith('.mjs')) {
          expect((await node([file], dir)).stdout).toContain('mts ok');
          ran++;
        } else if (file.endsWith('.cjs')) {
          expect((await node(['--no-experimental-require-module', file], dir)).stdout).toContain(
            'cts ok',
          );
          ran++;
        }
      }
    }
    expect(ran).toBeGreaterThanOrEqual(2);
  }, 180_000);
});
