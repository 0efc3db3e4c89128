import { setTimeout as sleep } from 'node:timers/promises';
import { concurrencyLimit } from '@doorman/fastify';
import Fastify, { type FastifyInstance } from 'fastify';

/**
 * Two limits in one Fastify app:
 * - app-wide: at most 50 requests in handlers, 100 more waiting up to 2 s;
 *   `/health` and `/status` never wait in line;
 * - per route: the slow report runs 2 at a time and sheds the third at once.
 *   Its handler is wrapped, so a report whose client gave up still counts
 *   until its query is done.
 */
export function createApp(): FastifyInstance {
  const app = Fastify();

  const api = concurrencyLimit({
    limit: 50,
    maxQueue: 100,
    queueTimeoutMs: 2000,
    name: 'api',
    skip: (request) => request.url === '/health' || request.url === '/status',
  });
  app.addHook('onRequest', api);

  app.get('/health', async () => ({ ok: true }));

  const report = concurrencyLimit({ limit: 2, maxQueue: 0, name: 'report', retryAfter: 5 });
  app.get(
    '/report',
    { onRequest: report },
    report.wrap(async () => {
      await sleep(500); // stands for a slow query
      return { rows: 42 };
    }),
  );

  app.get('/status', async () =>
    [api.limiter, report.limiter].map((l) => ({
      name: l.name,
      limit: l.limit,
      inUse: l.inUse,
      waiting: l.waiting,
    })),
  );

  return app;
}
