/**
 * The soak's server, run in a child process of its own:
 *
 *   node --expose-gc --conditions=@doorman/source --import tsx test/soak/server.ts <express|koa|guard|fastify>
 *
 * so that the heap it reports holds the server and nothing else (not the load
 * generator, not the test runner). It listens on an ephemeral port, behind a
 * real `concurrencyLimit`, and answers the parent over IPC: its tallies and
 * the limiter's numbers (`stats`), heap samples after forced GCs (`heap`),
 * and `stop`.
 *
 * Each request says what to do in `x-kind` (see `Kind`) and how long its
 * handler holds the permit in `x-hold` (ms; 0 means one event-loop turn). The
 * `leave-*` kinds are clients that walk away at a given stage: the server
 * tells them when that stage is reached with an informational `102
 * Processing` (or, mid-stream, the first body chunk), and the client destroys
 * its socket when it sees it. So every abort lands exactly at its stage.
 */
import type { AddressInfo } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';
import { expressApp } from './apps/express.js';
import { fastifyApp } from './apps/fastify.js';
import { guardApp } from './apps/guard.js';
import { koaApp } from './apps/koa.js';
import type { HeapSample, ToParent, ToServer } from './protocol.js';
import { ring, type SoakApp, stats, turn } from './state.js';

const apps: Record<string, () => SoakApp | Promise<SoakApp>> = {
  express: expressApp,
  fastify: fastifyApp,
  koa: koaApp,
  guard: guardApp,
};
const framework = process.argv[2] ?? '';
const build = apps[framework];
if (build === undefined) {
  throw new Error(`usage: server.ts <${Object.keys(apps).join('|')}>, got ${framework}`);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('the soak server needs --expose-gc');

const { server, sem, pipe } = await build();
// The load generator's keep-alive sockets must never be closed under it.
server.keepAliveTimeout = 0;
server.requestTimeout = 0;
server.headersTimeout = 0;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1000);
}

function send(message: ToParent): void {
  process.send?.(message);
}

async function heap(samples: number): Promise<HeapSample> {
  const used: number[] = [];
  for (let i = 0; i < samples; i++) {
    // A few turns first, so closes, timers and finalizers pending now have run.
    for (let t = 0; t < 3; t++) await turn(0);
    (gc as () => void)();
    used.push(process.memoryUsage().heapUsed);
  }
  const alive = ring.filter((ref) => ref?.deref() !== undefined).length;
  const tracked = ring.filter((ref) => ref !== undefined).length;
  const spaces: Record<string, number> = {};
  for (const space of getHeapSpaceStatistics()) spaces[space.space_name] = space.space_used_size;
  return { heapUsed: used, spaces, trackedRequests: tracked, aliveRequests: alive };
}

process.on('message', (message: ToServer) => {
  switch (message.type) {
    case 'stats':
      send({
        type: 'stats',
        stats: {
          server: { ...stats },
          limiter: { inUse: sem.inUse, waiting: sem.waiting, counters: sem.counters },
          pipe: { inUse: pipe.inUse, waiting: pipe.waiting, counters: pipe.counters },
          cpuMs: cpuMs(),
        },
      });
      return;
    case 'heap':
      void heap(message.samples).then((sample) => send({ type: 'heap', sample }));
      return;
    case 'stop':
      server.closeAllConnections();
      server.close(() => process.exit(0));
      return;
  }
});

server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
});
