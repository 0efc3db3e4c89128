import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { concurrencyLimit } from '@doorman/koa';
import type { Limiter } from '@doorman/semaphore';
import Router from '@koa/router';
import type Koa from 'koa';
import type { Context, Middleware } from 'koa';
import { listen } from '../../kit/index.js';
import { FAILED, type Script, STREAM_FAILED, type Subject, THREW } from '../subject.js';

type KoaClass = typeof Koa;
type LimitOptions = Parameters<typeof concurrencyLimit>[0];

const idOf = (req: IncomingMessage) => String(req.headers['x-id'] ?? '');

function handlerOf(script: Script): Middleware {
  switch (script.kind) {
    case 'respond':
      return (ctx) => {
        ctx.status = script.status ?? 200;
        ctx.body = script.body ?? 'ok';
      };
    case 'hold':
      return async (ctx) => {
        await script.stage.enter(idOf(ctx.req));
        ctx.status = script.status ?? 200;
        ctx.body = script.body ?? 'ok';
      };
    case 'throw':
      return () => {
        throw new Error(THREW);
      };
    case 'fail':
      return async (ctx) => {
        await script.stage?.enter(idOf(ctx.req));
        throw new Error(FAILED);
      };
    case 'stream':
      return (ctx) => {
        const { stage } = script;
        const id = idOf(ctx.req);
        ctx.type = 'text/plain';
        ctx.body = Readable.from(
          (async function* () {
            yield 'first';
            await stage.enter(id);
            if (script.fails) throw new Error(STREAM_FAILED);
            yield 'last';
          })(),
          { objectMode: false },
        );
      };
  }
}

/** Koa subjects: the limit `app.use`d, routes on @koa/router (which also mounts it again for `twice`). */
export function koaSubject(name: string, KoaApp: KoaClass): Subject {
  return {
    name,
    seesHandler: true,
    seesBodyFailure: true,
    hasUpstream: true,
    upstreamStartsResponse: false,
    async build(options, setup) {
      const limit = concurrencyLimit(options as LimitOptions);
      const errors: unknown[] = [];
      const closed = new Set<string>();
      const app = new KoaApp();
      app.on('error', (error: unknown) => {
        errors.push(error);
      });
      app.use((ctx, next) => {
        const id = idOf(ctx.req);
        ctx.res.once('close', () => closed.add(id));
        return next();
      });
      const upstream = setup.upstream;
      if (upstream !== undefined) {
        app.use(async (ctx: Context, next) => {
          if (ctx.get('x-upstream') === 'hold') await upstream.enter(idOf(ctx.req));
          await next();
        });
      }
      app.use(limit);
      const router = new Router();
      for (const [path, script] of Object.entries(setup.routes)) {
        if (setup.twice) router.get(path, limit, handlerOf(script));
        else router.get(path, handlerOf(script));
      }
      app.use(router.routes());
      const served = await listen(app.callback());
      return {
        limiter: limit.limiter as Limiter,
        port: served.port,
        errors,
        closed,
        close: served.close,
      };
    },
  };
}
