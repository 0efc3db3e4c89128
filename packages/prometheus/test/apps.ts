import { createServer, type Server } from 'node:http';
import {
  type ConcurrencyLimitOptions as ExpressLimitOptions,
  concurrencyLimit as expressLimit,
} from '@doorman/express';
import {
  type ConcurrencyLimitOptions as KoaLimitOptions,
  concurrencyLimit as koaLimit,
} from '@doorman/koa';
import type { Limiter, LimiterStats } from '@doorman/semaphore';
import express from 'express';
import Koa from 'koa';
import type { Registry } from 'prom-client';
import type { Holds } from './helpers.js';

export type Framework = 'express' | 'koa';

export interface LimitOptions {
  limit?: number;
  limiter?: Limiter;
  maxQueue?: number;
  queueTimeoutMs?: number;
  name?: string;
  key?: (path: string) => string;
}

/**
 * An app of the given framework: `GET /work/...` passes through one doorman
 * middleware into a handler held open by `holds`; `GET /metrics` serves the
 * registry's exposition and is never limited.
 */
export function createApp(
  framework: Framework,
  options: LimitOptions,
  holds: Holds,
  registry: Registry,
): { server: Server; middleware: { limiter: LimiterStats } } {
  const { key, ...rest } = options;
  if (framework === 'express') {
    const middleware = expressLimit({
      ...rest,
      ...(key === undefined ? {} : { key: (req: { path: string }) => key(req.path) }),
    } as ExpressLimitOptions);
    const app = express();
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
    app.get('/work/{*rest}', middleware, async (_req, res) => {
      await holds.hold();
      res.send('done');
    });
    return { server: createServer(app), middleware };
  }
  const middleware = koaLimit({
    ...rest,
    ...(key === undefined ? {} : { key: (ctx: { path: string }) => key(ctx.path) }),
  } as KoaLimitOptions);
  const app = new Koa();
  app.use(async (ctx, next) => {
    if (ctx.path !== '/metrics') return next();
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  app.use(middleware);
  app.use(async (ctx) => {
    await holds.hold();
    ctx.body = 'done';
  });
  return { server: createServer(app.callback()), middleware };
}
