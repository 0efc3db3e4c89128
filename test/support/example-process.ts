import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface RunningExample {
  /** The base URL the example printed, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/**
 * Starts an example with its own one command (`pnpm start`) on a free port
 * and resolves once it prints "listening on <url>".
 */
export async function startExample(
  dir: string,
  args: readonly string[] = ['start'],
  env: NodeJS.ProcessEnv = {},
): Promise<RunningExample> {
  // Its own process group, so stopping it stops pnpm, tsx and node alike.
  const child: ChildProcess = spawn('pnpm', [...args], {
    cwd: dir,
    env: { ...process.env, PORT: '0', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    out += chunk;
  });
  child.stdout?.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`example exited with ${code}:\n${out}`)));
  });
  return {
    url,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const exited = once(child, 'exit');
      process.kill(-child.pid, 'SIGTERM');
      await exited;
    },
  };
}
