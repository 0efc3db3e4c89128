import http from 'node:http';
import { Readable } from 'node:stream';
import { concurrencyLimit } from '@doorman/koa';
import Koa from 'koa';
import {
  chunks,
  closeOf,
  holdOf,
  kindOf,
  limitOptions,
  noteOther,
  observe,
  pipeOptions,
  type SoakApp,
  started,
  stats,
  track,
  turn,
} from '../state.js';

export function koaApp(): SoakApp {
  const limit = concurrencyLimit(limitOptions);
  const pipeLimit = concurrencyLimit(pipeOptions);
  const sem = limit.limiter;
  const app = new Koa();
  app.on('error', (error: Error) => {
    if (error.message.startsWith('soak ')) stats.errors++;
    else noteOther(error);
  });
  // Pipelined connections, on a limit of their own. Koa holds until the
  // handler settles: the head's handler settles once its connection is gone.
  app.use(async (ctx, next) => {
    if (ctx.path !== '/pipe') return next();
    stats.pipeGated++;
    await pipeLimit(ctx, async () => {
      stats.pipeStarted++;
      if (kindOf(ctx.req) === 'pipe-hold') {
        ctx.res.writeProcessing();
        await closeOf(ctx.res);
      }
      ctx.body = 'ok';
    });
  });
  app.use(async (ctx, next) => {
    stats.arrived++;
    track(ctx.req);
    if (kindOf(ctx.req) === 'leave-upstream') {
      ctx.res.writeProcessing();
      await closeOf(ctx.res);
      stats.upstreamLeft++;
    } else if (ctx.get('x-upstream') === 'async') {
      await turn(0);
    }
    return next();
  });
  app.use((ctx, next) => {
    stats.gated++;
    const before = sem.waiting;
    let admittedNow = false;
    const done = limit(ctx, () => {
      admittedNow = true;
      return next();
    });
    if (observe(sem, before, admittedNow, ctx.req)) ctx.res.writeProcessing();
    return done;
  });
  app.use(async (ctx) => {
    started(sem, ctx.req);
    const hold = holdOf(ctx.req);
    switch (kindOf(ctx.req)) {
      case 'throw':
        throw new Error('soak throw');
      case 'fail':
        await turn(hold);
        throw new Error('soak fail');
      case 'stream':
        ctx.type = 'text/plain';
        ctx.body = Readable.from(chunks(), { objectMode: false });
        return;
      case 'leave-admitted':
        ctx.res.writeProcessing();
        await closeOf(ctx.res);
        stats.admittedLeft++;
        ctx.body = 'nobody is listening';
        return;
      case 'leave-streaming': {
        const body = new Readable({ read() {} });
        body.once('close', () => {
          stats.streamLeft++;
        });
        body.push('first');
        ctx.type = 'text/plain';
        ctx.body = body;
        return;
      }
      default:
        await turn(hold);
        ctx.body = 'ok';
    }
  });
  return { server: http.createServer(app.callback()), sem, pipe: pipeLimit.limiter };
}
