import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The major of `peer` this test run is meant to load: the one the test
 * project names (DOORMAN_PEER_UNDER_TEST, set by the older-major projects in
 * vitest.config.ts), else the newest, from the root devDependency range.
 */
export function expectedMajor(peer: string): number {
  const named = JSON.parse(process.env['DOORMAN_PEER_UNDER_TEST'] ?? '{}') as Record<
    string,
    string
  >;
  if (named[peer] !== undefined) return Number(named[peer]);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  return Number(/\d+/.exec(manifest.devDependencies[peer] ?? '')?.[0]);
}

/** The major of `peer` that `import` finds in this process (through any test alias). */
export async function importedMajor(peer: string, load: () => Promise<unknown>): Promise<number> {
  const manifest = (await load()) as { default: { name: string; version: string } };
  if (manifest.default.name !== peer) throw new Error(`loaded ${manifest.default.name}`);
  return Number(manifest.default.version.split('.')[0]);
}

/** The major of `peer` that a child process started from `cwd` imports. */
export function childMajor(peer: string, cwd: string): number {
  const version = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import('${peer}/package.json', { with: { type: 'json' } }); console.log(m.default.version);`,
    ],
    { cwd, encoding: 'utf8' },
  );
  return Number(version.trim().split('.')[0]);
}
