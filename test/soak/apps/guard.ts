import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { guard } from '@doorman/http';
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

/** A failure on a bare server: the handler's own catch answers 500. */
function failed(res: ServerResponse, error: Error): void {
  if (error.message.startsWith('soak ')) stats.errors++;
  else noteOther(error);
  res.writeHead(500, { 'Content-Type': 'text/plain' });
  res.end('failed');
}

/**
 * The guard in front of a bare node:http listener. What runs before the
 * guard (counting, the upstream step) wraps it, as a logging or tracing
 * wrapper would.
 */
export function guardApp(): SoakApp {
  const work = (req: IncomingMessage, res: ServerResponse): void => {
    started(sem, req);
    const hold = holdOf(req);
    const kind = kindOf(req);
    if (answerOnResponse(kind, res)) return;
    switch (kind) {
      case 'throw':
        try {
          throw new Error('soak throw');
        } catch (error) {
          failed(res, error as Error);
        }
        return;
      case 'fail':
        after(hold, () => failed(res, new Error('soak fail')));
        return;
      default:
        after(hold, () => {
          res.end('ok');
        });
    }
  };
  let admittedNow = false;
  const limited = guard(limitOptions, (req, res) => {
    admittedNow = true;
    work(req, res);
  });
  const sem = limited.limiter;
  const pipe = guard(pipeOptions, pipeHandler);
  const gate = (req: IncomingMessage, res: ServerResponse): void => {
    stats.gated++;
    const before = sem.waiting;
    admittedNow = false;
    limited(req, res);
    if (observe(sem, before, admittedNow, req)) res.writeProcessing();
  };
  const server = http.createServer((req, res) => {
    if (req.url === '/pipe') {
      stats.pipeGated++;
      pipe(req, res);
      return;
    }
    stats.arrived++;
    track(req);
    if (kindOf(req) === 'leave-upstream') {
      res.once('close', () => {
        stats.upstreamLeft++;
        gate(req, res);
      });
      res.writeProcessing();
      return;
    }
    if (req.headers['x-upstream'] === 'async') setImmediate(() => gate(req, res));
    else gate(req, res);
  });
  return { server, sem, pipe: pipe.limiter };
}
