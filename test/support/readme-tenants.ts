import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The "Per-tenant limits" server of an adapter's README, run as it is: written
 * to a file inside the package (so its imports resolve as in an app) and
 * started with node. `packageUrl` is the package folder's URL.
 */
export function readmeTenantRecipe(packageUrl: URL): void {
  const packageDir = fileURLToPath(packageUrl);
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Per-tenant limits'));
  const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const dir = mkdtempSync(join(packageDir, '.readme-'));
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<string> {
    const file = join(dir, 'tenants.mjs');
    writeFileSync(file, snippet);
    child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@doorman/source', file], {
      cwd: packageDir,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      out += chunk;
    });
    child.stdout?.setEncoding('utf8');
    for await (const chunk of child.stdout as AsyncIterable<string>) {
      out += chunk;
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (match?.[1]) {
        child.stdout?.resume();
        return match[1];
      }
    }
    throw new Error(`the snippet exited without listening:\n${out}`);
  }

  describe('the README per-tenant recipe', () => {
    it('serves each tenant under its own limit and the total', async () => {
      expect(snippet).toContain('totalLimit: 20');
      const url = await start();
      const replies = await Promise.all(
        ['acme', 'globex'].map(async (tenant) => {
          const res = await fetch(url, { headers: { 'x-tenant': tenant } });
          return [res.status, await res.text()];
        }),
      );
      expect(replies).toEqual([
        [200, 'hello acme\n'],
        [200, 'hello globex\n'],
      ]);
    }, 30_000);
  });
}
