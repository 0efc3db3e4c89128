// A Node cluster of WORKERS processes (default 4) sharing one concurrency
// limit through Redis. The primary forks the workers and prints where they
// listen; each worker serves the app on the shared PORT and its own
// Prometheus metrics on a port of its own.
//
//   REDIS_URL (redis://127.0.0.1:6379)  PORT (3000, 0 = any)  METRICS_PORT (9101; worker n
//   uses METRICS_PORT + n - 1; 0 = any)  LIMIT (4)  WORKERS (4)  KEY (redis-cluster-example)  WORK_MS (100)
import cluster from 'node:cluster';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createWorkerApp } from './app.js';

const env = process.env;
const port = Number(env['PORT'] ?? 3000);
const metricsPort = Number(env['METRICS_PORT'] ?? 9101);
const workers = Number(env['WORKERS'] ?? 4);
const limit = Number(env['LIMIT'] ?? 4);

interface Ready {
  type: 'ready';
  worker: number;
  port: number;
  metricsPort: number;
}

if (cluster.isPrimary) {
  const ready: Ready[] = [];
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', (message: Ready) => {
      if (message.type !== 'ready') return;
      ready.push(message);
      if (ready.length < workers) return;
      ready.sort((a, b) => a.worker - b.worker);
      console.log(
        `redis-cluster listening on http://127.0.0.1:${message.port} (${workers} workers, limit ${limit} shared through Redis)`,
      );
      console.log(
        `metrics: ${ready.map((r) => `http://127.0.0.1:${r.metricsPort}/metrics`).join(' ')}`,
      );
    });
  }
  let stopping = false;
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) console.error(`worker ${worker.id} exited (${code ?? signal})`);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, async () => {
      stopping = true;
      const all = Object.values(cluster.workers ?? {});
      for (const worker of all) worker?.send({ type: 'stop' });
      await Promise.all(all.map((w) => (w && !w.isDead() ? once(w, 'exit') : null)));
      process.exit(0);
    });
  }
} else {
  const id = cluster.worker?.id ?? 1;
  const redis = new Redis(env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
  const { app, metricsApp, limiter } = createWorkerApp({
    redis,
    key: env['KEY'] ?? 'redis-cluster-example',
    limit,
    worker: id,
    workMs: Number(env['WORK_MS'] ?? 100),
  });
  // Workers share the app's port (the primary hands out connections)...
  const server = app.listen(port, '127.0.0.1');
  // ...but each has its own metrics port, so a scrape reaches one worker for sure.
  const metrics = metricsApp.listen({
    port: metricsPort === 0 ? 0 : metricsPort + id - 1,
    host: '127.0.0.1',
    exclusive: true,
  });
  await Promise.all([once(server, 'listening'), once(metrics, 'listening')]);
  process.send?.({
    type: 'ready',
    worker: id,
    port: (server.address() as AddressInfo).port,
    metricsPort: (metrics.address() as AddressInfo).port,
  } satisfies Ready);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    metrics.close();
    server.closeAllConnections();
    metrics.closeAllConnections();
    await limiter.close();
    await limiter.idle();
    await redis.quit();
    process.exit(0);
  };
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'stop') void stop();
  });
  // Ctrl-C reaches the whole process group: let the primary drive the shutdown.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => void stop());
}
