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
/** Fastify 4 and 5 share the surface used here. */
type FastifyFactory = (options: { logger: false }) => ReturnType<typeof fastify>;

const idOf = (req: IncomingMessage) => String(req.headers['x-id'] ?? '');

function handlerOf(script: Script): Handler {
  switch (script.kind) {
    case 'respond':
      return (_req, reply) => reply.code(script.status ?? 200).send(script.body ?? 'ok');
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
      return (req, reply) => {
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

/** Fastify subjects: the hook app-wide (`addHook('onRequest', limit)`), and per route for `twice`. */
export function fastifySubject(name: string, factory: FastifyFactory): Subject {
  return {
    name,
    seesHandler: true,
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
      app.addHook('onRequest', limit);
      for (const [path, script] of Object.entries(setup.routes)) {
        app.get(path, setup.twice ? { onRequest: limit } : {}, handlerOf(script));
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
