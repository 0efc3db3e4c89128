/**
 * The soak's load generator. It starts `server.ts` in a child process
 * (`node --expose-gc`), drives it over real HTTP with a bounded number of
 * concurrent clients and a seeded mix of request kinds, and collects what
 * the clients saw, what the server counted and the server's heap after
 * forced GCs at quiet checkpoints.
 */
import { type ChildProcess, fork } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { prng } from '../kit/index.js';
import type { HeapSample, ServerStats, SoakConfig, ToParent, ToServer } from './protocol.js';

export type Framework = 'express' | 'koa' | 'guard' | 'fastify';

/**
 * What a request asks of the server. `ok`, `throw`, `fail` (`next(err)` in
 * Express, a rejection in Koa) and `stream` describe the handler; the
 * `leave-*` kinds are clients that walk away at one stage: during an
 * upstream async step (before the limiter), while queued, once admitted (the
 * handler has started), and mid-stream (after the first body chunk). A
 * `leave-queued` request that is not queued stays and is answered as `ok`.
 */
export const kinds = [
  'ok',
  'throw',
  'fail',
  'stream',
  'leave-upstream',
  'leave-queued',
  'leave-admitted',
  'leave-streaming',
] as const;
export type Kind = (typeof kinds)[number];

const weights: Record<Kind, number> = {
  ok: 40,
  throw: 5,
  fail: 6,
  stream: 8,
  'leave-upstream': 4,
  'leave-queued': 14,
  'leave-admitted': 4,
  'leave-streaming': 4,
};

/** What the clients saw, by outcome. */
export interface ClientTally {
  sent: number;
  byKind: Record<Kind, number>;
  /** 200 `ok`. */
  ok: number;
  /** 200 with the whole streamed body. */
  streamed: number;
  /** 500 from a handler that threw or failed. */
  failed: number;
  /** 503 naming QUEUE_FULL, with Retry-After. */
  queueFull: number;
  /** 503 naming QUEUE_TIMEOUT, with Retry-After. */
  queueTimeout: number;
  leftUpstream: number;
  leftQueued: number;
  leftAdmitted: number;
  leftStreaming: number;
  /**
   * Pipelined connections: three requests in one write to a route with a
   * limit of its own, the socket destroyed once the first answer starts, so
   * the rest die queued or answered into a pipeline that never gets a socket.
   */
  pipelined: number;
  /** Anything else: an error on a connection the client kept, a wrong answer. */
  unexpected: number;
  unexpectedSamples: string[];
}

export interface Checkpoint {
  /** Requests sent (and all answered or abandoned) so far. */
  requests: number;
  /** Since the server was ready, and the load generator's CPU time (for the record, never asserted). */
  elapsedMs: number;
  clientCpuMs: number;
  stats: ServerStats;
  heap: HeapSample;
}

export interface SoakReport {
  framework: Framework;
  config: SoakConfig;
  concurrency: number;
  client: ClientTally;
  /** The first after the warm-up: the heap baseline. The last: the end of the run. */
  checkpoints: Checkpoint[];
}

export interface SoakOptions {
  requests: number;
  concurrency?: number;
  seed?: number;
  config?: SoakConfig;
  /** Called at each checkpoint (progress output for the long form). */
  onCheckpoint?: (checkpoint: Checkpoint, report: SoakReport) => void;
}

const serverPath = fileURLToPath(new URL('./server.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

class ServerProcess {
  private readonly waiters = new Map<ToParent['type'], (message: ToParent) => void>();
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (message: ToParent) => {
      const waiter = this.waiters.get(message.type);
      this.waiters.delete(message.type);
      waiter?.(message);
    });
  }

  static async start(framework: Framework, config: SoakConfig): Promise<ServerProcess> {
    const child = fork(serverPath, [framework], {
      cwd: root,
      execArgv: ['--expose-gc', '--conditions=@doorman/source', '--import', 'tsx'],
      env: { ...process.env, SOAK_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`soak server exited with ${code}`)));
      child.once('error', reject);
      child.on('message', (message: ToParent) => {
        if (message.type === 'ready') resolve(message.port);
      });
    });
    child.removeAllListeners('exit');
    return new ServerProcess(child, port);
  }

  private ask<T extends ToParent['type']>(
    request: ToServer,
    reply: T,
  ): Promise<Extract<ToParent, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) {
        reject(new Error('the soak server has exited'));
        return;
      }
      this.waiters.set(reply, resolve as (message: ToParent) => void);
      this.child.send(request);
    });
  }

  async stats(): Promise<ServerStats> {
    return (await this.ask({ type: 'stats' }, 'stats')).stats;
  }

  async heap(samples: number): Promise<HeapSample> {
    return (await this.ask({ type: 'heap', samples }, 'heap')).sample;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' });
    await exited;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

const newTally = (): ClientTally => ({
  sent: 0,
  byKind: Object.fromEntries(kinds.map((k) => [k, 0])) as Record<Kind, number>,
  ok: 0,
  streamed: 0,
  failed: 0,
  queueFull: 0,
  queueTimeout: 0,
  leftUpstream: 0,
  leftQueued: 0,
  leftAdmitted: 0,
  leftStreaming: 0,
  pipelined: 0,
  unexpected: 0,
  unexpectedSamples: [],
});

type Outcome =
  | { left: 'upstream' | 'queued' | 'admitted' | 'streaming' }
  | { status: number; body: string; retryAfter: string | undefined }
  | { error: string };

/** Sends one request and resolves with what the client saw. Never rejects. */
function send(
  port: number,
  agent: http.Agent,
  kind: Kind,
  hold: number,
  upstream: boolean,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const leaving = kind.startsWith('leave-');
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const headers: Record<string, string> = { 'x-kind': kind, 'x-hold': String(hold) };
    if (upstream) headers['x-upstream'] = 'async';
    // The clients that walk away use a socket of their own; the rest keep theirs alive.
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/soak',
      headers,
      agent: leaving ? false : agent,
    });
    const leave = (stage: 'upstream' | 'queued' | 'admitted' | 'streaming') => {
      settle({ left: stage });
      req.destroy();
    };
    req.on('information', (info) => {
      if (info.statusCode !== 102 || !leaving) {
        settle({ error: `unexpected ${info.statusCode} for ${kind}` });
        return;
      }
      if (kind === 'leave-upstream') leave('upstream');
      else if (kind === 'leave-queued') leave('queued');
      else if (kind === 'leave-admitted') leave('admitted');
      else settle({ error: `unexpected 102 for ${kind}` });
    });
    req.on('response', (res) => {
      if (settled) {
        res.resume();
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (kind === 'leave-streaming' && res.statusCode === 200) leave('streaming');
      });
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        settle({ status: res.statusCode ?? 0, body, retryAfter });
      });
      res.on('error', (error) => settle({ error: `response: ${error.message}` }));
      res.on('aborted', () => settle({ error: 'response aborted' }));
    });
    req.on('error', (error) => settle({ error: `request: ${error.message}` }));
    req.end();
  });
}

/** One pipelined connection (see `ClientTally.pipelined`); resolves when it has closed. */
function pipeline(port: number): Promise<void> {
  const request = (kind: string) => `GET /pipe HTTP/1.1\r\nHost: soak\r\nx-kind: ${kind}\r\n\r\n`;
  return new Promise<void>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('connect', () =>
      socket.write(request('pipe-hold') + request('pipe-ok') + request('pipe-ok')),
    );
    socket.once('data', () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

function record(tally: ClientTally, kind: Kind, outcome: Outcome): void {
  const wrong = (what: string) => {
    tally.unexpected++;
    if (tally.unexpectedSamples.length < 20) tally.unexpectedSamples.push(`${kind}: ${what}`);
  };
  if ('error' in outcome) {
    wrong(outcome.error);
    return;
  }
  if ('left' in outcome) {
    if (outcome.left === 'upstream') tally.leftUpstream++;
    else if (outcome.left === 'queued') tally.leftQueued++;
    else if (outcome.left === 'admitted') tally.leftAdmitted++;
    else tally.leftStreaming++;
    return;
  }
  const { status, body, retryAfter } = outcome;
  if (status === 503) {
    if (retryAfter === undefined || !/^\d+$/.test(retryAfter)) wrong(`503 without Retry-After`);
    else if (body === 'Service Unavailable (QUEUE_FULL)\n') tally.queueFull++;
    else if (body === 'Service Unavailable (QUEUE_TIMEOUT)\n') tally.queueTimeout++;
    else wrong(`503 ${JSON.stringify(body)}`);
    return;
  }
  // Everything else must be what the handler of this kind answers.
  if ((kind === 'ok' || kind === 'leave-queued') && status === 200 && body === 'ok') tally.ok++;
  else if (kind === 'stream' && status === 200 && body === 'abc') tally.streamed++;
  else if ((kind === 'throw' || kind === 'fail') && status === 500) tally.failed++;
  else wrong(`${status} ${JSON.stringify(body.slice(0, 80))}`);
}

/**
 * How many requests are in flight at once, by position in the run: a cycle
 * from light load (nobody queues) to overload (the queue fills and sheds),
 * so every path of the limiter is taken all through the run.
 */
function targetConcurrency(i: number, max: number): number {
  const levels = [4, 16, 32, max, 24, max];
  return Math.min(max, levels[Math.floor(i / 150) % levels.length] as number);
}

/**
 * Runs `requests` requests against a fresh server of `framework` and returns
 * everything measured. The run is cut into phases; between phases the load
 * stops, the server is polled until the limiter is idle and every abandoned
 * request has been seen closing, and the server's heap is sampled.
 */
export async function soak(framework: Framework, options: SoakOptions): Promise<SoakReport> {
  const concurrency = options.concurrency ?? 64;
  const config = options.config ?? { limit: 8, maxQueue: 24, queueTimeoutMs: 20 };
  const random = prng(options.seed ?? 0x50a4_2026);
  const totalWeight = kinds.reduce((sum, k) => sum + weights[k], 0);
  const pickKind = (): Kind => {
    let roll = random() * totalWeight;
    for (const kind of kinds) {
      roll -= weights[kind];
      if (roll < 0) return kind;
    }
    return 'ok';
  };
  // Mostly a turn of the event loop, sometimes a few ms, rarely longer than
  // the queue timeout: those stall the line and make timeouts happen.
  const pickHold = (): number => {
    const roll = random();
    if (roll < 0.7) return 0;
    if (roll < 0.96) return 1 + Math.floor(random() * 3);
    return config.queueTimeoutMs * 3;
  };

  const { requests } = options;
  const warmup = Math.min(requests, Math.max(4000, Math.round(requests * 0.05)));
  const phases = requests >= 100_000 ? 10 : 4;
  const ends = [warmup];
  for (let p = 1; p <= phases; p++) {
    ends.push(warmup + Math.round(((requests - warmup) * p) / phases));
  }

  const server = await ServerProcess.start(framework, config);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const tally = newTally();
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const report: SoakReport = { framework, config, concurrency, client: tally, checkpoints: [] };
  try {
    let issued = 0;
    for (const end of ends) {
      await drive(end);
      const stats = await quiet();
      const heap = await server.heap(7);
      const cpu = process.cpuUsage(cpuStart);
      const checkpoint = {
        requests: issued,
        elapsedMs: Math.round(performance.now() - started),
        clientCpuMs: Math.round((cpu.user + cpu.system) / 1000),
        stats,
        heap,
      };
      report.checkpoints.push(checkpoint);
      options.onCheckpoint?.(checkpoint, report);
    }
    await server.stop();
    return report;

    /** Sends requests up to number `end`, keeping the target number in flight. */
    function drive(end: number): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        let inFlight = 0;
        let completed = tally.sent;
        let lastProgress = completed;
        // Liveness only: a request that never settles would hang the run.
        const watchdog = setInterval(() => {
          if (completed === lastProgress && inFlight > 0) {
            clearInterval(watchdog);
            reject(new Error(`${inFlight} requests got no answer for 30 s`));
          }
          lastProgress = completed;
        }, 30_000);
        const pump = () => {
          while (issued < end && inFlight < targetConcurrency(issued, concurrency)) {
            const kind = pickKind();
            const hold =
              kind === 'ok' || kind === 'fail' || kind === 'leave-queued' ? pickHold() : 0;
            const upstream = random() < 0.3;
            issued++;
            inFlight++;
            tally.sent++;
            tally.byKind[kind]++;
            void send(server.port, agent, kind, hold, upstream).then((outcome) => {
              record(tally, kind, outcome);
              inFlight--;
              completed++;
              pump();
            });
            if (random() < 0.05) {
              inFlight++;
              tally.pipelined++;
              void pipeline(server.port).then(() => {
                inFlight--;
                pump();
              });
            }
          }
          if (inFlight === 0 && issued >= end) {
            clearInterval(watchdog);
            resolve();
          }
        };
        pump();
      });
    }

    /**
     * Waits until the server has caught up with the clients: the limiter is
     * idle and every client that walked away has been seen going.
     */
    async function quiet(): Promise<ServerStats> {
      let last: ServerStats | undefined;
      try {
        await vi.waitFor(
          async () => {
            last = await server.stats();
            const s = last.server;
            if (
              last.limiter.inUse !== 0 ||
              last.limiter.waiting !== 0 ||
              last.pipe.inUse !== 0 ||
              last.pipe.waiting !== 0 ||
              s.pipeGated !== 3 * tally.pipelined ||
              s.upstreamLeft !== tally.leftUpstream ||
              s.admittedLeft !== tally.leftAdmitted ||
              s.streamLeft !== tally.leftStreaming ||
              s.arrived !== tally.sent
            ) {
              throw new Error('not quiet yet');
            }
          },
          { timeout: 10_000, interval: 5 },
        );
      } catch {
        // Report what it looks like: the test's assertions say what is wrong.
      }
      return last ?? server.stats();
    }
  } finally {
    agent.destroy();
    server.kill();
  }
}
