// Builds the package in the current directory twice from one tsconfig.json:
// ESM into dist/esm and CommonJS into dist/cjs, each with its declarations.
// A package.json with only "type" sits in each folder so Node and TypeScript
// read every file in the right module system.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const dist = join(process.cwd(), 'dist');

rmSync(dist, { recursive: true, force: true });
const run = (args) => execFileSync(process.execPath, [tsc, ...args], { stdio: 'inherit' });

run([
  '-p',
  'tsconfig.json',
  '--composite',
  'false',
  '--incremental',
  'false',
  '--outDir',
  'dist/esm',
]);
run([
  '-p',
  'tsconfig.json',
  '--composite',
  'false',
  '--incremental',
  'false',
  '--outDir',
  'dist/cjs',
  '--module',
  'commonjs',
  '--moduleResolution',
  'node10',
  '--customConditions',
  'null',
]);
for (const [dir, type] of [
  ['esm', 'module'],
  ['cjs', 'commonjs'],
]) {
  mkdirSync(join(dist, dir), { recursive: true });
  writeFileSync(join(dist, dir, 'package.json'), `${JSON.stringify({ type })}\n`);
}
