import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The README's server snippets, run as they are: each is written to a file
// inside this package (so its imports resolve as in an app) and started with
// node; then a limited route is requested and /metrics is scraped.

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const snippetDir = mkdtempSync(join(packageDir, '.readme-'));
const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
const snippets = [...readme.matchAll(/^## (\w+)\n\n```js\n([\s\S]*?)```/gm)].map(
  ([, framework, code]) => ({ framework: framework as string, code: code as string }),
);
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
  rmSync(snippetDir, { recursive: true, force: true });
});

async function start(name: string, code: string): Promise<string> {
  const file = join(snippetDir, `${name}.mjs`);
  writeFileSync(file, code);
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@doorman/source', file], {
    cwd: packageDir,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
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
  throw new Error(`${name} exited without listening:\n${out}`);
}

describe('the README snippets', () => {
  it('has one server snippet for Express and one for Koa', () => {
    expect(snippets.map((s) => s.framework)).toEqual(['Express', 'Koa']);
  });

  it('Express: serves the metrics of a middleware and a shared Semaphore', async () => {
    const base = await start('express', snippets[0]?.code as string);
    expect((await fetch(`${base}/orders`)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('doorman_permits_limit{limiter="api"} 10');
    expect(text).toContain('doorman_permits_limit{limiter="db"} 5');
    expect(text).toContain('doorman_acquired_total{limiter="db"} 1');
    expect(text).toContain('doorman_acquired_total{limiter="api"} 1');
  });

  it('Koa: serves the metrics of a per-key limiter on the default registry', async () => {
    const base = await start('koa', snippets[1]?.code as string);
    for (const tenant of ['a', 'b', 'c']) {
      expect((await fetch(`${base}/`, { headers: { 'x-tenant': tenant } })).status).toBe(200);
    }
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('doorman_acquired_total{limiter="tenants"} 3');
    expect(text).toContain('doorman_permits_limit{limiter="tenants"} 2');
    expect(text.match(/^doorman_permits_in_use\{/gm)).toHaveLength(1);
  });
});
