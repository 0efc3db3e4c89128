import { setTimeout as delay } from 'node:timers/promises';
import { concurrencyLimit } from '@doorman/express';
import { registerMetrics } from '@doorman/prometheus';
import express, { type Express } from 'express';
import { Registry } from 'prom-client';

export interface DashboardAppOptions {
  /** Where the metrics go. Default: a new Registry of its own. */
  registry?: Registry;
  /** How long one song takes, in ms. Default: 50 to 200 ms. */
  songMs?: () => number;
}

/**
 * The karaoke bar with 4 rooms, instrumented: `GET /sing` takes a room for
 * one song (4 at a time, 8 more wait at the door for up to 1 s, the rest are
 * turned away with 503), and `GET /metrics` shows the doorman metrics that
 * Prometheus scrapes and the Grafana dashboard draws.
 */
export function createApp(options: DashboardAppOptions = {}): {
  app: Express;
  registry: Registry;
} {
  const registry = options.registry ?? new Registry();
  const songMs = options.songMs ?? (() => 50 + Math.random() * 150);

  const rooms = concurrencyLimit({ limit: 4, maxQueue: 8, queueTimeoutMs: 1000, name: 'rooms' });
  registerMetrics(rooms, { registry });

  const app = express();
  // Not limited: a scrape must get through however busy the bar is.
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.get('/sing', rooms, async (_req, res) => {
    await delay(songMs());
    res.json({ sung: 1 });
  });
  app.get('/', (_req, res) => {
    res
      .type('text/plain')
      .send('GET /sing takes one of 4 rooms for a song; GET /metrics for Prometheus.\n');
  });
  return { app, registry };
}
