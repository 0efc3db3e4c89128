// One hello-world server for the HTTP benchmark, run in its own process:
//   node server.mjs <express|koa> <none|doorman|express-queue>
// It prints its port on stdout and serves until killed.
import { createServer } from 'node:http';

const [framework, variant] = process.argv.slice(2);
// High enough never to queue at the load we offer: this measures the cost of
// passing through the limiter, not of waiting in it.
const LIMIT = 10_000;

async function expressApp() {
  const { default: express } = await import('express');
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  if (variant === 'doorman') {
    const { concurrencyLimit } = await import('@doorman/express');
    app.use(concurrencyLimit({ limit: LIMIT, name: 'bench' }));
  } else if (variant === 'express-queue') {
    const { default: queue } = await import('express-queue');
    app.use(queue({ activeLimit: LIMIT, queuedLimit: -1 }));
  } else if (variant !== 'none') {
    throw new Error(`unknown variant ${variant}`);
  }
  app.get('/', (_req, res) => {
    res.end('hello');
  });
  return app;
}

async function koaApp() {
  const { default: Koa } = await import('koa');
  const app = new Koa();
  if (variant === 'doorman') {
    const { concurrencyLimit } = await import('@doorman/koa');
    app.use(concurrencyLimit({ limit: LIMIT, name: 'bench' }));
  } else if (variant !== 'none') {
    throw new Error(`unknown variant ${variant} for koa`);
  }
  app.use((ctx) => {
    ctx.body = 'hello';
  });
  return app.callback();
}

const handler = framework === 'express' ? await expressApp() : await koaApp();
const server = createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
