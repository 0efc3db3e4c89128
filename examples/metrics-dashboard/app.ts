import { setTimeout as delay } from 'node:timers/promises';
import { AdaptiveSemaphore } from '@doorman/adaptive';
import { concurrencyLimit } from '@doorman/express';
import { registerMetrics } from '@doorman/prometheus';
import { RedisSemaphore } from '@doorman/redis';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';

export interface DashboardAppOptions {
  /** Where the metrics go. Default: a new Registry of its own. */
  registry?: Registry;
  /** How long one song takes, in ms. Default: 50 to 200 ms. */
  songMs?: () => number;
  /**
   * With a Redis client, a song also needs one of 3 microphones shared by
   * every instance of the bar on that Redis (a `RedisSemaphore`): the
   * dashboard's cluster-wide panels show them.
   */
  redis?: Redis;
  /** The Redis key of the shared microphones. Default `'karaoke-microphones'`. */
  microphonesKey?: string;
  /** How long the kitchen takes for one order, in ms. Default: 20 to 30 ms. */
  orderMs?: () => number;
}

/**
 * The karaoke bar with 4 rooms, instrumented: `GET /sing` takes a room for
 * one song (4 at a time, 8 more wait at the door for up to 1 s, the rest are
 * turned away with 503) and, given Redis, one of the 3 microphones shared by
 * every instance, and `GET /metrics` shows the doorman metrics that
 * Prometheus scrapes and the Grafana dashboard draws.
 */
export function createApp(options: DashboardAppOptions = {}): {
  app: Express;
  registry: Registry;
  microphones: RedisSemaphore | undefined;
} {
  const registry = options.registry ?? new Registry();
  const songMs = options.songMs ?? (() => 50 + Math.random() * 150);

  const rooms = concurrencyLimit({ limit: 4, maxQueue: 8, queueTimeoutMs: 1000, name: 'rooms' });
  const microphones =
    options.redis === undefined
      ? undefined
      : new RedisSemaphore({
          redis: options.redis,
          key: options.microphonesKey ?? 'karaoke-microphones',
          limit: 3,
          name: 'microphones',
        });
  // `GET /order`: nobody knows how many orders the kitchen takes at once, so
  // its limit learns it (an AdaptiveSemaphore) from how long orders take.
  const orderMs = options.orderMs ?? (() => 20 + Math.random() * 10);
  const kitchen = new AdaptiveSemaphore({
    initialLimit: 4,
    maxLimit: 50,
    maxQueue: 8,
    queueTimeoutMs: 1000,
    name: 'kitchen',
  });
  registerMetrics(microphones === undefined ? [rooms, kitchen] : [rooms, microphones, kitchen], {
    registry,
  });
  const limits =
    microphones === undefined ? [rooms] : [rooms, concurrencyLimit({ limiter: microphones })];

  const app = express();
  // Not limited: a scrape must get through however busy the bar is.
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.get('/sing', ...limits, async (_req, res) => {
    await delay(songMs());
    res.json({ sung: 1 });
  });
  app.get('/order', concurrencyLimit({ limiter: kitchen }), async (_req, res) => {
    await delay(orderMs());
    res.json({ served: 1 });
  });
  app.get('/', (_req, res) => {
    res
      .type('text/plain')
      .send(
        'GET /sing takes one of 4 rooms for a song; GET /order asks the kitchen; GET /metrics for Prometheus.\n',
      );
  });
  return { app, registry, microphones };
}
