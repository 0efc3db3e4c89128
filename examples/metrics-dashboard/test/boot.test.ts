import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadReport } from '../load.js';
import { exampleDir } from './dashboard.js';

const run = promisify(execFile);
let child: ChildProcess;
let base: string;

beforeAll(async () => {
  // Its own process group, so stopping it stops pnpm, tsx and node alike.
  child = spawn('pnpm', ['start'], {
    cwd: exampleDir,
    env: { ...process.env, PORT: '0', REDIS_URL: '' },
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Read with a listener, not a `for await` left with `break`: that would
  // destroy the pipe, and the server's next console.log would die of EPIPE.
  let out = '';
  child.stdout?.setEncoding('utf8');
  base = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`pnpm start exited (${code}):\n${out}`)));
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
  });
});

afterAll(async () => {
  if (child.exitCode === null && child.pid !== undefined) {
    const exited = once(child, 'exit');
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  }
});

describe('examples/metrics-dashboard scripts', () => {
  it('serves /metrics from `pnpm start`, and `pnpm load` puts load on it that the metrics count', async () => {
    const { stdout } = await run(
      'pnpm',
      ['--silent', 'load', '--url', `${base}/sing`, '--clients', '16', '--requests', '60'],
      { cwd: exampleDir },
    );
    const report = JSON.parse(stdout.trim().split('\n').at(-1) as string) as LoadReport;
    expect(report.sent).toBe(60);
    expect(report.errors).toBe(0);
    const ok = report.byStatus[200] ?? 0;
    const shed = report.byStatus[503] ?? 0;
    expect(ok + shed).toBe(60);

    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('doorman_permits_limit{limiter="rooms"}')).toBe(4);
    expect(value('doorman_acquired_total{limiter="rooms"}')).toBe(ok);
    const rejected = ['queue_full', 'timeout', 'aborted', 'closed', 'unavailable']
      .map((reason) => value(`doorman_rejected_total{limiter="rooms",reason="${reason}"}`))
      .reduce((a, b) => a + b, 0);
    expect(rejected).toBe(shed);
    expect(value('doorman_wait_seconds_count{limiter="rooms"}')).toBe(ok);
  });
});
