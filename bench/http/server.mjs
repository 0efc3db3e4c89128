// One hello-world server for the HTTP benchmark, run in its own process by
// run.mjs (with an IPC channel):
//   node server.mjs <express|koa|fastify> <none|empty|doorman|guard|express-queue>
// It sends its port over IPC once listening, and exits when the runner goes.
//   none           no middleware
//   empty          one middleware (Fastify: an onRequest hook) that only calls
//                  next: the price of any middleware at all
//   doorman        doorman's middleware (Fastify: its onRequest hook)
//   guard          doorman's guard() in front of the app (Express only)
//   express-queue  express-queue (Express only)
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [framework, variant] = process.argv.slice(2);
// High enough never to queue at the load we offer: this measures the cost of
// passing through the limiter, not of waiting in it.
const LIMIT = 10_000;

// doorman's packages: the runner's copy of the build (DOORMAN_PACKAGES), or
// alone, the workspace's.
function doormanPackage(name) {
  const from = process.env.DOORMAN_PACKAGES;
  return import(
    from === undefined
      ? `@doorman/${name}`
      : pathToFileURL(join(from, 'node_modules', '@doorman', name, 'dist', 'esm', 'index.js')).href
  );
}
function unknown() {
  throw new Error(`unknown variant ${variant} for ${framework}`);
}

async function expressApp() {
  const { default: express } = await import('express');
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  if (variant === 'empty') {
    app.use((_req, _res, next) => next());
  } else if (variant === 'doorman') {
    const { concurrencyLimit } = await doormanPackage('express');
    app.use(concurrencyLimit({ limit: LIMIT, name: 'bench' }));
  } else if (variant === 'express-queue') {
    const { default: queue } = await import('express-queue');
    app.use(queue({ activeLimit: LIMIT, queuedLimit: -1 }));
  } else if (variant !== 'none' && variant !== 'guard') unknown();
  app.get('/', (_req, res) => {
    res.end('hello');
  });
  if (variant !== 'guard') return app;
  const { guard } = await doormanPackage('http');
  return guard({ limit: LIMIT, name: 'bench' }, app);
}

async function koaApp() {
  const { default: Koa } = await import('koa');
  const app = new Koa();
  if (variant === 'empty') {
    app.use((_ctx, next) => next());
  } else if (variant === 'doorman') {
    const { concurrencyLimit } = await doormanPackage('koa');
    app.use(concurrencyLimit({ limit: LIMIT, name: 'bench' }));
  } else if (variant !== 'none') unknown();
  app.use((ctx) => {
    ctx.body = 'hello';
  });
  return app.callback();
}

/** Fastify's request listener, served by a node:http server like the others. */
async function fastifyApp() {
  const { default: Fastify } = await import('fastify');
  let handler;
  const app = Fastify({
    logger: false,
    serverFactory(h) {
      handler = h;
      return createServer(h);
    },
  });
  if (variant === 'empty') {
    app.addHook('onRequest', (_request, _reply, done) => {
      done();
    });
  } else if (variant === 'doorman') {
    const { concurrencyLimit } = await doormanPackage('fastify');
    app.addHook('onRequest', concurrencyLimit({ limit: LIMIT, name: 'bench' }));
  } else if (variant !== 'none') unknown();
  app.get('/', (_request, reply) => {
    reply.send('hello');
  });
  await app.ready();
  return handler;
}

const apps = { express: expressApp, koa: koaApp, fastify: fastifyApp };
if (!Object.hasOwn(apps, framework)) throw new Error(`unknown framework ${framework}`);
const server = createServer(await apps[framework]());
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send({ port: server.address().port });
});
process.on('disconnect', () => process.exit(0));
