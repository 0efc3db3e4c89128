/**
 * The soak's load generator. It starts `server.ts` in a child process
 * (`node --expose-gc`), drives it over real HTTP with a bounded number of
 * concurrent clients and a seeded mix of request kinds, and collects what
 * the clients saw, what the server counted and the server's heap after
 * forced GCs at quiet checkpoints.
 */
import { type ChildProcess, fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { prng } from '../kit/index.js';
import {
  type ClientTally,
  type Kind,
  kinds,
  newTally,
  pipeline,
  record,
  send,
  weights,
} from './client.js';
import type { HeapSample, ServerStats, SoakConfig, ToParent, ToServer } from './protocol.js';

export type Framework = 'express' | 'koa' | 'guard' | 'fastify';

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
