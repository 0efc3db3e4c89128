import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { concurrencyLimit } from '@doorman/fastify';
import type { Limiter } from '@doorman/semaphore';
import type fastify from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FAILED, type Script, STREAM_FAILED, type Subject, THREW } from '../subject.js';

type LimitOptions = Parameters<typeof concurrencyLimit>[0];
type Handler = (req: FastifyRequest, reply: FastifyReply) => unknown;
/** Fastify 4 and 5 share the surface used here (typed as Fastify 5's). */
type FastifyFactory = typeof fastify;

const idOf = (req: IncomingMessage) => String(req.headers['x-id'] ?? '');

function handlerOf(script: Script): Handler {
  switch (script.kind) {
    case 'respond':
      return async (_req, reply) => reply.code(script.status ?? 200).send(script.body ?? 'ok');
    case 'hold':
      return async (req, reply) => {
        await script.stage.enter(idOf(req.raw));
        return reply.code(script.status ?? 200).send(script.body ?? 'ok');
      };
    case 'throw':
      return () => {
        throw new Error(THREW);
      };
    case 'fail':
      return async (req) => {
        await script.stage?.enter(idOf(req.raw));
        throw new Error(FAILED);
      };
    case 'stream':
      return async (req, reply) => {
        const { stage } = script;
        const id = idOf(req.raw);
        return reply.type('text/plain').send(
          Readable.from(
            (async function* () {
              yield 'first';
              await stage.enter(id);
              if (script.fails) throw new Error(STREAM_FAILED);
              yield 'last';
            })(),
            { objectMode: false },
          ),
        );
      };
  }
}

/**
 * Fastify subjects: the hook app-wide (`addHook('onRequest', limit)`, and in
 * the route's `onRequest` too for `twice`), or `limit.wrap(handler)` on each
 * route (behind the app-wide hook for `twice`). No hook sees a handler settle,
 * so the hook alone holds until the response is done; `wrap` sees the handler.
 */
export function fastifySubject(
  name: string,
  factory: FastifyFactory,
  mode: 'hook' | 'wrap',
): Subject {
  return {
    name,
    seesHandler: mode === 'wrap',
    seesBodyFailure: false,
    hasUpstream: true,
    upstreamStartsResponse: false,
    async build(options, setup) {
      const limit = concurrencyLimit(options as LimitOptions);
      const errors: unknown[] = [];
      const closed = new Set<string>();
      const app = factory({ logger: false });
      app.addHook('onRequest', (req, reply, done) => {
        const id = idOf(req.raw);
        reply.raw.once('close', () => closed.add(id));
        done();
      });
      const upstream = setup.upstream;
      if (upstream !== undefined) {
        app.addHook('onRequest', async (req) => {
          if (req.headers['x-upstream'] === 'hold') await upstream.enter(idOf(req.raw));
        });
      }
      if (mode === 'hook' || setup.twice) app.addHook('onRequest', limit);
      for (const [path, script] of Object.entries(setup.routes)) {
        if (mode === 'wrap') app.get(path, limit.wrap(handlerOf(script)));
        else app.get(path, setup.twice ? { onRequest: limit } : {}, handlerOf(script));
      }
      app.setErrorHandler((error, _req, reply) => {
        errors.push(error);
        return reply.code(500).send('failed');
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      return {
        limiter: limit.limiter as Limiter,
        port: (app.server.address() as AddressInfo).port,
        errors,
        closed,
        async close() {
          app.server.closeAllConnections();
          await app.close();
        },
      };
    },
  };
}
