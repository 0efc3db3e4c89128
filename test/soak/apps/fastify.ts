import http from 'node:http';
import { Readable } from 'node:stream';
import { concurrencyLimit } from '@doorman/fastify';
import fastify from 'fastify';
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

/**
 * Fastify: the limit as an `onRequest` hook. The counting and upstream steps
 * are hooks before it, in a scope of their own so the pipelined route (with
 * its own limit in its route's `onRequest`) skips them.
 */
export async function fastifyApp(): Promise<SoakApp> {
  const limit = concurrencyLimit(limitOptions);
  const pipeLimit = concurrencyLimit(pipeOptions);
  const sem = limit.limiter;
  let server: http.Server | undefined;
  const app = fastify({
    logger: false,
    serverFactory: (handler) => {
      server = http.createServer(handler);
      return server;
    },
  });
  app.setErrorHandler((failure, _request, reply) => {
    const error = failure as Error;
    if (error.message.startsWith('soak ')) stats.errors++;
    else noteOther(error);
    return reply.code(500).send('failed');
  });
  app.get(
    '/pipe',
    {
      onRequest: [
        (_request, _reply, done) => {
          stats.pipeGated++;
          done();
        },
        pipeLimit,
      ],
    },
    async (request, reply) => {
      stats.pipeStarted++;
      if (kindOf(request.raw) === 'pipe-hold') {
        reply.raw.writeProcessing();
        await closeOf(reply.raw);
      }
      return 'ok';
    },
  );
  await app.register(async (scope) => {
    scope.addHook('onRequest', (request, reply, done) => {
      stats.arrived++;
      track(request.raw);
      if (kindOf(request.raw) === 'leave-upstream') {
        reply.raw.once('close', () => {
          stats.upstreamLeft++;
          done();
        });
        reply.raw.writeProcessing();
        return;
      }
      if (request.headers['x-upstream'] === 'async') setImmediate(done);
      else done();
    });
    scope.addHook('onRequest', (request, reply, done) => {
      stats.gated++;
      const before = sem.waiting;
      let admittedNow = false;
      limit(request, reply, (error) => {
        admittedNow = true;
        done(error);
      });
      if (observe(sem, before, admittedNow, request.raw)) reply.raw.writeProcessing();
    });
    scope.get('/soak', async (request, reply) => {
      started(sem, request.raw);
      const hold = holdOf(request.raw);
      switch (kindOf(request.raw)) {
        case 'throw':
          throw new Error('soak throw');
        case 'fail':
          await turn(hold);
          throw new Error('soak fail');
        case 'stream':
          return reply.type('text/plain').send(Readable.from(chunks(), { objectMode: false }));
        case 'leave-admitted':
          reply.raw.writeProcessing();
          await closeOf(reply.raw);
          stats.admittedLeft++;
          return 'nobody is listening';
        case 'leave-streaming': {
          const body = new Readable({ read() {} });
          body.once('close', () => {
            stats.streamLeft++;
          });
          body.push('first');
          return reply.type('text/plain').send(body);
        }
        default:
          await turn(hold);
          return 'ok';
      }
    });
  });
  await app.ready();
  if (server === undefined) throw new Error('fastify did not build its server');
  return { server, sem, pipe: pipeLimit.limiter };
}
