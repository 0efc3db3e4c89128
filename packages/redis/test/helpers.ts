import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis, type RedisOptions } from 'ioredis';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../../..');
export const fixtures = join(here, 'fixtures');

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A key no other test (or earlier run) uses. */
export function uniqueKey(label: string): string {
  return `test-${label}-${randomBytes(5).toString('hex')}`;
}

/** The Redis keys of a limiter, as the scripts name them. */
export function redisKeys(key: string) {
  const base = `doorman:{${key}}`;
  return {
    leases: `${base}:leases`,
    used: `${base}:used`,
    queue: `${base}:queue`,
    seq: `${base}:seq`,
  };
}

export async function connect(url = REDIS_URL, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, ...options });
  await redis.connect();
  return redis;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** True if `port` can be listened on now. */
async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  try {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    server.close();
    await once(server, 'close');
    return true;
  } catch {
    return false;
  }
}

/**
 * A free port for a Redis Cluster node whose cluster bus port (the port +
 * 10000, which Redis also binds) is free too: two suites starting clusters
 * at once (the Redis suite runs once per ioredis major) must not collide.
 */
export async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 < 65_536 && (await isFree(port + 10_000))) return port;
  }
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts a throwaway `redis-server` (no persistence) and resolves once it accepts connections. */
export async function startRedisServer(
  port: number,
  extra: readonly string[] = [],
): Promise<RedisServer> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolveReady, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    child.once('exit', onExit);
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) {
        child.off('exit', onExit);
        resolveReady();
      }
    });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Message {
  type: string;
  [field: string]: unknown;
}

export interface Fixture {
  readonly child: ChildProcess;
  /** The next message of this type (earlier unread ones of that type first). */
  next(type: string): Promise<Message>;
  send(message: Message): void;
  /** Everything it wrote to stderr, for failure messages. */
  stderr(): string;
  /** Asks it to finish (`{ type: 'stop' }`) and waits for its exit; kills it if it does not go. */
  stop(): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `fixtures/<name>` in its own Node process (TypeScript through tsx's
 * loader, in the same process so a signal reaches the code itself), talking
 * over IPC.
 */
export function startFixture(name: string, env: Record<string, string>): Fixture {
  const child = fork(join(fixtures, name), [], {
    cwd: root,
    execArgv: ['--conditions=@doorman/source', '--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    err += chunk;
  });
  const inbox: Message[] = [];
  const wanted: Array<{ type: string; resolve: (m: Message) => void }> = [];
  const failures: Array<(error: Error) => void> = [];
  child.on('message', (message: Message) => {
    const index = wanted.findIndex((w) => w.type === message.type);
    if (index >= 0) {
      const [w] = wanted.splice(index, 1);
      w?.resolve(message);
    } else inbox.push(message);
  });
  child.on('exit', (code, signal) => {
    for (const fail of failures.splice(0)) {
      fail(new Error(`fixture ${name} exited (${code ?? signal}):\n${err}`));
    }
  });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    next(type) {
      const index = inbox.findIndex((m) => m.type === type);
      if (index >= 0) return Promise.resolve(inbox.splice(index, 1)[0] as Message);
      if (exited()) return Promise.reject(new Error(`fixture ${name} has exited:\n${err}`));
      return new Promise<Message>((resolveMessage, reject) => {
        wanted.push({ type, resolve: resolveMessage });
        failures.push(reject);
      });
    },
    send(message) {
      child.send(message);
    },
    stderr: () => err,
    async stop() {
      if (exited()) return;
      const gone = once(child, 'exit');
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
    async kill(signal) {
      if (exited()) return;
      const gone = once(child, 'exit');
      child.kill(signal);
      await gone;
    },
  };
}
