import http from 'node:http';
import { concurrencyLimit } from '@doorman/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  after,
  answerOnResponse,
  holdOf,
  kindOf,
  limitOptions,
  noteOther,
  observe,
  pipeHandler,
  pipeOptions,
  type SoakApp,
  started,
  stats,
  track,
} from '../state.js';

export function expressApp(): SoakApp {
  const limit = concurrencyLimit(limitOptions);
  const pipeLimit = concurrencyLimit(pipeOptions);
  const sem = limit.limiter;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Pipelined connections, on a limit of their own.
  app.get(
    '/pipe',
    (_req, _res, next) => {
      stats.pipeGated++;
      next();
    },
    pipeLimit,
    (req, res) => pipeHandler(req, res),
  );
  // An upstream step, as an auth or body-parsing middleware would be: some
  // requests take a turn of the event loop here, and `leave-upstream` clients
  // walk away during it, before the limiter has seen them.
  app.use((req, res, next) => {
    stats.arrived++;
    track(req);
    if (kindOf(req) === 'leave-upstream') {
      res.once('close', () => {
        stats.upstreamLeft++;
        next();
      });
      res.writeProcessing();
      return;
    }
    if (req.headers['x-upstream'] === 'async') setImmediate(next);
    else next();
  });
  app.get(
    '/soak',
    (req, res, next) => {
      stats.gated++;
      const before = sem.waiting;
      let admittedNow = false;
      limit(req, res, (error?: unknown) => {
        admittedNow = true;
        next(error);
      });
      if (observe(sem, before, admittedNow, req)) res.writeProcessing();
    },
    (req: Request, res: Response, next: NextFunction) => {
      started(sem, req);
      const hold = holdOf(req);
      const kind = kindOf(req);
      if (answerOnResponse(kind, res)) return;
      switch (kind) {
        case 'throw':
          throw new Error('soak throw');
        case 'fail':
          after(hold, () => next(new Error('soak fail')));
          return;
        default:
          after(hold, () => {
            res.end('ok');
          });
      }
    },
  );
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    if (error.message.startsWith('soak ')) stats.errors++;
    else noteOther(error);
    res.status(500).end('failed');
  });
  return { server: http.createServer(app), sem, pipe: pipeLimit.limiter };
}
