import { concurrencyLimit } from '@doorman/koa';
import { Semaphore } from '@doorman/semaphore';
import Router from '@koa/router';
import Koa from 'koa';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Per-route limits with @koa/router:
 * - `/search` runs 4 at a time, 10 more wait up to 1 s;
 * - `/export` runs 1 at a time and sheds at once (429, Retry-After: 10);
 * - `/tenants/:id/jobs` gives every tenant its own limit of 2;
 * - `/images` and `/thumbnails` share one budget of 3 CPU-heavy slots.
 */
export function createApp(): Koa {
  const app = new Koa();
  const router = new Router();

  const search = concurrencyLimit({ limit: 4, maxQueue: 10, queueTimeoutMs: 1000, name: 'search' });
  router.get('/search', search, async (ctx) => {
    await sleep(20);
    ctx.body = { hits: [] };
  });

  const exporter = concurrencyLimit({
    limit: 1,
    maxQueue: 0,
    statusCode: 429,
    retryAfter: 10,
    name: 'export',
  });
  router.get('/export', exporter, async (ctx) => {
    await sleep(500); // stands for a long export
    ctx.body = 'id,name\n1,karaoke\n';
  });

  const perTenant = concurrencyLimit({
    limit: 2,
    maxQueue: 5,
    key: (ctx) => String(ctx.params.id),
    name: 'tenant_jobs',
  });
  router.post('/tenants/:id/jobs', perTenant, async (ctx) => {
    await sleep(20);
    ctx.status = 202;
    ctx.body = { tenant: ctx.params.id };
  });

  const cpu = new Semaphore({ limit: 3, maxQueue: 20, queueTimeoutMs: 2000, name: 'cpu' });
  router.get('/images', concurrencyLimit({ limiter: cpu }), async (ctx) => {
    await sleep(10);
    ctx.body = 'image';
  });
  router.get('/thumbnails', concurrencyLimit({ limiter: cpu }), async (ctx) => {
    await sleep(5);
    ctx.body = 'thumbnail';
  });

  router.get('/status', (ctx) => {
    ctx.body = [search.limiter, exporter.limiter, perTenant.limiter, cpu].map((l) => ({
      name: l.name,
      limit: l.limit,
      inUse: l.inUse,
      waiting: l.waiting,
    }));
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
