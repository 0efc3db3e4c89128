import { setTimeout as delay } from 'node:timers/promises';
import { concurrencyLimit } from '@doorman/express';
import { registerMetrics } from '@doorman/prometheus';
import { RedisSemaphore } from '@doorman/redis';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';

export interface WorkerAppOptions {
  redis: Redis;
  /** The shared key in Redis: every worker (and every machine) using it shares one limit. */
  key: string;
  /** Handlers running at once across all workers. */
  limit: number;
  /** This worker's number, a label on its metrics. */
  worker: number;
  /** How long one request's work takes, in ms. */
  workMs: number;
}

/**
 * One worker of the cluster. `GET /work` is admitted through a RedisSemaphore
 * shared by every worker: `limit` handlers at once in total, up to 100 more
 * waiting in one FIFO line (across workers) for at most 5 s, the rest get 503.
 * Its metrics live in a registry of its own, served by `metricsApp` on a port
 * of its own, so Prometheus scrapes each worker separately.
 */
export function createWorkerApp(options: WorkerAppOptions): {
  app: Express;
  metricsApp: Express;
  limiter: RedisSemaphore;
  registry: Registry;
} {
  const limiter = new RedisSemaphore({
    redis: options.redis,
    key: options.key,
    limit: options.limit,
    name: 'api',
    maxQueue: 100,
    queueTimeoutMs: 5000,
  });
  const registry = new Registry();
  registerMetrics(limiter, { registry, labels: { worker: options.worker } });

  const app = express();
  app.get('/work', concurrencyLimit({ limiter }), async (_req, res) => {
    await delay(options.workMs);
    res.json({ worker: options.worker, pid: process.pid });
  });
  app.get('/', (_req, res) => {
    res
      .type('text/plain')
      .send(
        `GET /work runs on one of the workers; at most ${options.limit} run at once across all of them.\n`,
      );
  });

  const metricsApp = express();
  metricsApp.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return { app, metricsApp, limiter, registry };
}
