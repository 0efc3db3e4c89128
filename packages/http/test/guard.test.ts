import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { guard } from '../src/index.js';
import {
  type Deferred,
  deferred,
  get,
  open,
  rawSocket,
  until,
  useServers,
} from './node-http-kit.js';

/** A listener that holds each request until the test lets it answer. */
class Backend {
  running = 0;
  peak = 0;
  readonly seen: string[] = [];
  readonly turns: Deferred[] = [];
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    this.seen.push(req.url ?? '');
    const turn = deferred();
    this.turns.push(turn);
    turn.promise.then(() => {
      this.running--;
      if (!res.destroyed) res.end(`served ${req.url}`);
    });
  };
  releaseAll(): void {
    for (const turn of this.turns) turn.resolve();
  }
}

describe('guard', () => {
  const serve = useServers();
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  afterEach(() => {
    warnings.length = 0;
  });

  it('admits limit requests into the listener and queues the rest in order', async () => {
    const backend = new Backend();
    const limited = guard({ limit: 2 }, backend.listener);
    const port = await serve(limited);
    const replies = ['/a', '/b', '/c', '/d'].map((path) => get(port, path));
    await until(() => expect(limited.limiter.waiting).toBe(2));
    expect(backend.running).toBe(2);
    backend.releaseAll();
    await until(() => expect(backend.seen).toHaveLength(4));
    backend.releaseAll();
    expect((await Promise.all(replies)).map((r) => r.body)).toEqual(
      ['/a', '/b', '/c', '/d'].map((p) => `served ${p}`),
    );
    expect(backend.peak).toBe(2);
    expect(backend.seen.slice(2)).toEqual(['/c', '/d']);
    await until(() => expect(limited.limiter.inUse).toBe(0));
  });

  it('refuses a full line with 503 before the listener runs', async () => {
    const backend = new Backend();
    const limited = guard({ limit: 1, maxQueue: 0, retryAfter: 4 }, backend.listener);
    const port = await serve(limited);
    const first = get(port, '/first');
    await until(() => expect(backend.running).toBe(1));
    const refused = await get(port, '/refused');
    expect(refused).toMatchObject({
      status: 503,
      body: 'Service Unavailable (QUEUE_FULL)\n',
      headers: { 'retry-after': '4', 'cache-control': 'no-store' },
    });
    expect(backend.seen).toEqual(['/first']);
    expect(limited.limiter.counters.rejected.queue_full).toBe(1);
    backend.releaseAll();
    await first;
  });

  it('takes a client that leaves while queued out of the line: the listener never sees it', async () => {
    const backend = new Backend();
    const limited = guard({ limit: 1 }, backend.listener);
    const port = await serve(limited);
    const first = get(port, '/first');
    await until(() => expect(backend.running).toBe(1));
    const leaver = open(port, '/leaver');
    await until(() => expect(limited.limiter.waiting).toBe(1));
    leaver.req.destroy();
    await until(() => expect(limited.limiter.waiting).toBe(0));
    expect(limited.limiter.counters.rejected.aborted).toBe(1);
    backend.releaseAll();
    await first;
    expect(backend.seen).toEqual(['/first']);
  });

  it('answers 500 when an async onRejected rejects, never leaving it unhandled', async () => {
    const backend = new Backend();
    const limited = guard(
      {
        limit: 1,
        maxQueue: 0,
        async onRejected() {
          await Promise.resolve();
          throw new Error('onRejected broke');
        },
      },
      backend.listener,
    );
    const port = await serve(limited);
    const first = get(port, '/first');
    await until(() => expect(backend.running).toBe(1));
    const refused = await get(port, '/refused');
    expect(refused.status).toBe(500);
    expect(refused.body).toBe('Internal Server Error\n');
    await until(() =>
      expect(warnings.map((w) => w.message)).toContain(
        'doorman guard answered 500: onRejected broke',
      ),
    );
    backend.releaseAll();
    await first;
    expect(backend.seen).toEqual(['/first']);
  });

  it('answers with what onRejected writes', async () => {
    const backend = new Backend();
    const limited = guard(
      {
        limit: 1,
        maxQueue: 0,
        onRejected(error, _req, res) {
          res.writeHead(error.status, { 'retry-after': error.headers['Retry-After'] });
          res.end(`busy: ${error.code}`);
        },
      },
      backend.listener,
    );
    const port = await serve(limited);
    const first = get(port, '/first');
    await until(() => expect(backend.running).toBe(1));
    expect(await get(port, '/x')).toMatchObject({ status: 503, body: 'busy: QUEUE_FULL' });
    backend.releaseAll();
    await first;
  });

  it('lets skipped requests through without a permit', async () => {
    const backend = new Backend();
    const limited = guard(
      { limit: 1, maxQueue: 0, skip: (req) => req.url === '/health' },
      backend.listener,
    );
    const port = await serve(limited);
    const first = get(port, '/first');
    await until(() => expect(backend.running).toBe(1));
    const health = get(port, '/health');
    await until(() => expect(backend.running).toBe(2));
    backend.releaseAll();
    expect((await health).body).toBe('served /health');
    await first;
    expect(limited.limiter.counters.acquired).toBe(1);
  });

  for (const limit of [1, 3]) {
    it(`releases everything of a pipelined connection that dies (limit ${limit}: running and queued)`, async () => {
      const backend = new Backend();
      const limited = guard({ limit, maxQueue: 10 }, backend.listener);
      const port = await serve(limited);
      const line = 'GET /p HTTP/1.1\r\nHost: x\r\n\r\n';
      const socket = await rawSocket(port, line + line + line);
      await until(() => expect(limited.limiter.inUse + limited.limiter.waiting).toBe(3));
      socket.destroy();
      await until(() => {
        expect(limited.limiter.inUse).toBe(0);
        expect(limited.limiter.waiting).toBe(0);
      });
      // A queued request of the dead connection never reaches the listener.
      expect(backend.seen).toHaveLength(limit);
      backend.releaseAll();
      const counters = limited.limiter.counters;
      expect(counters.released).toBe(counters.acquired);
    });
  }

  it('checks its arguments', () => {
    expect(() => guard({ limit: 1 }, 'app' as never)).toThrow(
      new TypeError("Expected `listener` to be a function, got `'app'` (string)"),
    );
    expect(() => guard({ limit: -1 }, () => {})).toThrow(RangeError);
    expect(() => guard({ limit: 1, onRejected: 3 as never }, () => {})).toThrow(/onRejected/);
  });
});
