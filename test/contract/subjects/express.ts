import type { IncomingMessage, ServerResponse } from 'node:http';
import { concurrencyLimit } from '@doorman/express';
import type { Limiter } from '@doorman/semaphore';
import type express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { listen } from '../../kit/index.js';
import { FAILED, type Script, STREAM_FAILED, type Subject, THREW } from '../subject.js';

type ExpressFactory = typeof express;
type LimitOptions = Parameters<typeof concurrencyLimit>[0];

const idOf = (req: IncomingMessage) => String(req.headers['x-id'] ?? '');
const gone = (res: ServerResponse) => res.destroyed || res.writableEnded;

/** A script as an Express handler (`app.use` style: it settles through `res` or `next`). */
function handlerOf(script: Script): RequestHandler {
  switch (script.kind) {
    case 'respond':
      return (_req, res) => {
        res.status(script.status ?? 200).send(script.body ?? 'ok');
      };
    case 'hold':
      return (req, res) => {
        void script.stage.enter(idOf(req)).then(() => {
          if (!gone(res)) res.status(script.status ?? 200).send(script.body ?? 'ok');
        });
      };
    case 'throw':
      return () => {
        throw new Error(THREW);
      };
    case 'fail':
      return (req, _res, next) => {
        void (script.stage?.enter(idOf(req)) ?? Promise.resolve()).then(() =>
          next(new Error(FAILED)),
        );
      };
    case 'stream':
      return (req, res) => {
        res.setHeader('Content-Type', 'text/plain');
        res.write('first');
        void script.stage.enter(idOf(req)).then(() => {
          // A body that breaks after the head: what `pipeline(source, res)` does on error.
          if (script.fails) res.destroy(new Error(STREAM_FAILED));
          else res.end('last');
        });
      };
  }
}

/** A script as an async handler for `limit.wrap`: its promise settles when the work is over. */
function asyncHandlerOf(script: Script): (req: Request, res: Response) => Promise<void> {
  switch (script.kind) {
    case 'hold':
      return async (req, res) => {
        await script.stage.enter(idOf(req));
        if (!gone(res)) res.status(script.status ?? 200).send(script.body ?? 'ok');
      };
    case 'fail':
      return async (req) => {
        await script.stage?.enter(idOf(req));
        throw new Error(FAILED);
      };
    case 'stream':
      return async (req, res) => {
        res.setHeader('Content-Type', 'text/plain');
        res.write('first');
        await script.stage.enter(idOf(req));
        if (script.fails) throw new Error(STREAM_FAILED);
        res.end('last');
      };
    default: {
      const handler = handlerOf(script) as (req: Request, res: Response) => void;
      return async (req, res) => handler(req, res);
    }
  }
}

/** Express subjects: the limit `app.use`d (`mode: 'use'`) or around each handler (`'wrap'`). */
export function expressSubject(
  name: string,
  factory: ExpressFactory,
  mode: 'use' | 'wrap',
): Subject {
  return {
    name,
    seesHandler: mode === 'wrap',
    seesBodyFailure: mode === 'wrap',
    hasUpstream: true,
    upstreamStartsResponse: true,
    async build(options, setup) {
      const limit = concurrencyLimit(options as LimitOptions);
      const errors: unknown[] = [];
      const closed = new Set<string>();
      const app = factory();
      app.set('etag', false);
      app.use((req, res, next) => {
        res.once('close', () => closed.add(idOf(req)));
        next();
      });
      const upstream = setup.upstream;
      if (upstream !== undefined) {
        app.use((req, _res, next) => {
          if (req.headers['x-upstream'] === 'hold')
            void upstream.enter(idOf(req)).then(() => next());
          else next();
        });
      }
      if (setup.upstreamStarts) {
        app.use((req, res, next) => {
          if (req.headers['x-upstream'] === 'start') {
            res.writeHead(200, { 'Content-Type': 'text/plain' });
            res.write('started ');
          }
          next();
        });
      }
      if (mode === 'use' || setup.twice) app.use(limit);
      for (const [path, script] of Object.entries(setup.routes)) {
        if (mode === 'use') {
          if (setup.twice) app.get(path, limit, handlerOf(script));
          else app.get(path, handlerOf(script));
        } else {
          app.get(path, limit.wrap(asyncHandlerOf(script)));
        }
      }
      app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
        errors.push(error);
        if (res.headersSent) res.end();
        else res.status(500).send('failed');
      });
      const served = await listen(app);
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
