import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { guard } from '@doorman/http';
import type { Limiter } from '@doorman/semaphore';
import { listen } from '../../kit/index.js';
import { FAILED, type Script, STREAM_FAILED, type Subject, THREW } from '../subject.js';

type GuardOptions = Parameters<typeof guard>[0];

const idOf = (req: IncomingMessage) => String(req.headers['x-id'] ?? '');

function answer(res: ServerResponse, status: number, body: string): void {
  if (res.destroyed || res.writableEnded) return;
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(body);
}

/**
 * A script on a bare node:http listener. A plain server has no error path:
 * a failure is answered 500 by the handler's own catch, as such code does.
 */
function handlerOf(script: Script): RequestListener {
  switch (script.kind) {
    case 'respond':
      return (_req, res) => answer(res, script.status ?? 200, script.body ?? 'ok');
    case 'hold':
      return (req, res) => {
        void script.stage
          .enter(idOf(req))
          .then(() => answer(res, script.status ?? 200, script.body ?? 'ok'));
      };
    case 'throw':
      return (_req, res) => {
        try {
          throw new Error(THREW);
        } catch {
          answer(res, 500, 'failed');
        }
      };
    case 'fail':
      return (req, res) => {
        void (script.stage?.enter(idOf(req)) ?? Promise.resolve())
          .then(() => Promise.reject(new Error(FAILED)))
          .catch(() => answer(res, 500, 'failed'));
      };
    case 'stream':
      return (req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('first');
        void script.stage.enter(idOf(req)).then(() => {
          if (script.fails) res.destroy(new Error(STREAM_FAILED));
          else res.end('last');
        });
      };
  }
}

/**
 * The bare guard around a plain listener. Met twice: the listener hands a
 * request back to the same guard once (as a router that mounts it again would).
 */
export const guardSubject: Subject = {
  name: 'the guard (node:http)',
  seesHandler: false,
  seesBodyFailure: false,
  hasUpstream: false,
  upstreamStartsResponse: false,
  async build(options, setup) {
    const closed = new Set<string>();
    const routes = new Map(Object.entries(setup.routes).map(([p, s]) => [p, handlerOf(s)]));
    const route: RequestListener = (req, res) => {
      const handler = routes.get(req.url ?? '');
      if (handler === undefined) answer(res, 404, 'not found');
      else handler(req, res);
    };
    const passed = new WeakSet<IncomingMessage>();
    const again: RequestListener = (req, res) => {
      if (passed.has(req)) {
        route(req, res);
        return;
      }
      passed.add(req);
      limited(req, res);
    };
    const limited = guard(options as GuardOptions, setup.twice ? again : route);
    const served = await listen((req, res) => {
      const id = idOf(req);
      res.once('close', () => closed.add(id));
      limited(req, res);
    });
    return {
      limiter: limited.limiter as Limiter,
      port: served.port,
      errors: [],
      closed,
      close: served.close,
    };
  },
};
