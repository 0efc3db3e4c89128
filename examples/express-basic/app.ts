import { concurrencyLimit } from '@doorman/express';
import { Semaphore } from '@doorman/semaphore';
import express, { type Express } from 'express';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Three ways to limit one app:
 * - an app-wide limit: at most 50 requests in the handlers, 100 more waiting;
 * - a per-route limit: the expensive report runs 2 at a time and sheds at once;
 * - a shared budget: two routes draw on one pool of 5 database connections,
 *   and a bulk write takes 3 of them.
 */
export function createApp(): Express {
  const app = express();

  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });

  const api = concurrencyLimit({
    limit: 50,
    maxQueue: 100,
    queueTimeoutMs: 2000,
    name: 'api',
    skip: (req) => req.path === '/health',
  });
  app.use(api);

  const report = concurrencyLimit({ limit: 2, maxQueue: 0, name: 'report', retryAfter: 5 });
  app.get('/report', report, async (_req, res) => {
    await sleep(500); // stands for a slow query
    res.json({ rows: 42 });
  });

  const db = new Semaphore({ limit: 5, maxQueue: 50, queueTimeoutMs: 1000, name: 'db' });
  app.post('/orders', concurrencyLimit({ limiter: db }), async (_req, res) => {
    await sleep(20);
    res.status(201).json({ created: 1 });
  });
  app.post('/orders/bulk', concurrencyLimit({ limiter: db, weight: 3 }), async (_req, res) => {
    await sleep(50);
    res.status(201).json({ created: 100 });
  });

  app.get('/status', (_req, res) => {
    const view = (l: { name: string; limit: number; inUse: number; waiting: number }) => ({
      name: l.name,
      limit: l.limit,
      inUse: l.inUse,
      waiting: l.waiting,
    });
    res.json([view(api.limiter), view(report.limiter), view(db)]);
  });

  return app;
}
