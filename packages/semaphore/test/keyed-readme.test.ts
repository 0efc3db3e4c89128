import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The README's KeyedSemaphore example, run as it is: written to a file inside
// this package (so `@doorman/semaphore` resolves as in an app) and started with node.
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### `KeyedSemaphore`'));
const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1] ?? '';

describe('the README KeyedSemaphore example', () => {
  it('runs, and prints what its comments say', () => {
    expect(snippet).toContain('new KeyedSemaphore(');
    const dir = mkdtempSync(join(packageDir, '.readme-'));
    try {
      const file = join(dir, 'tenants.mjs');
      writeFileSync(file, snippet);
      const run = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--conditions=@doorman/source', file],
        { cwd: packageDir, encoding: 'utf8', timeout: 20_000 },
      );
      expect(run.stderr).toBe('');
      const promised = [...snippet.matchAll(/console\.log\(.*\); \/\/ (.*?)(?::.*)?$/gm)].map(
        (m) => m[1],
      );
      expect(run.stdout.trim().split('\n')).toEqual(promised);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
