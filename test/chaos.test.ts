/**
 * Chaos: the bar's day going wrong under load, on real HTTP servers with the
 * real Express, Koa and Fastify adapters and the guard. Handlers are held open by deferred promises,
 * so every step is decided by the test; conditions are awaited by polling,
 * never by sleeping.
 *
 * - `limiter.close()` with rooms busy and a full line: the line is turned
 *   away (503 CLOSED), singers finish, later guests are turned away, `idle()`
 *   resolves.
 * - `server.close()` with rooms busy and a line: everyone inside and in line
 *   is served, the permits come back, the server's close callback fires.
 * - Slowloris: waves of sockets that queue and vanish. The line drains every
 *   time, it never grows past `maxQueue`, and nothing of theirs stays in memory.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { deferred } from './kit/index.js';
import { bars } from './support/bars.js';
import { exposeGc, heapAfterGc } from './support/gc.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Call {
  reply: Promise<Reply>;
  /** Resolves once the first body chunk has arrived. */
  firstChunk: Promise<void>;
}

/** One GET on its own connection, held by the test: `destroy()` walks away. */
function open(port: number, path: string): http.ClientRequest {
  const req = http.get({ host: '127.0.0.1', port, path, agent: false });
  req.on('error', () => {});
  return req;
}

/** One GET on its own connection (or on `agent`'s). */
function call(port: number, path: string, agent: http.Agent | false = false): Call {
  const firstChunk = deferred();
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        firstChunk.resolve();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  reply.catch(() => {});
  return { reply, firstChunk: firstChunk.promise };
}

const times = <T>(n: number, make: (i: number) => T): T[] =>
  Array.from({ length: n }, (_, i) => make(i));

function until(check: () => void): Promise<void> {
  return vi.waitFor(check, { interval: 2, timeout: 10_000 });
}

const rejected = (code: string) => ({
  status: 503,
  body: `Service Unavailable (${code})\n`,
  retryAfter: expect.stringMatching(/^\d+$/),
});
const shape = (reply: Reply) => ({
  status: reply.status,
  body: reply.body,
  retryAfter: reply.headers['retry-after'],
});

/**
 * Opens `count` raw sockets that each send a GET to `port`, in the manner of
 * a slowloris client. `seen` fills with what the server sends back.
 */
function raid(port: number, count: number) {
  return times(count, () => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setEncoding('utf8');
    const seen = { data: '', ended: false };
    socket.on('data', (chunk: string) => {
      seen.data += chunk;
    });
    socket.on('end', () => {
      seen.ended = true;
    });
    socket.on('error', () => {});
    socket.write('GET /sing HTTP/1.1\r\nHost: bar\r\nConnection: close\r\n\r\n');
    return { socket, seen };
  });
}

// Node's own HTTP and socket code settles (JIT, pools) over the first
// thousands of connections. Warm it once, with no limiter involved, so the
// heap comparisons below measure doorman and not that.
beforeAll(async () => {
  let open = 0;
  const server = http.createServer((_req, res) => {
    open++;
    res.on('close', () => {
      open--;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  for (let wave = 0; wave < 8; wave++) {
    const sockets = raid(port, 250);
    await until(() => expect(open).toBe(250));
    for (const { socket } of sockets) socket.destroy();
    await until(() => expect(open).toBe(0));
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A liveness bound for 3,500 sockets on a busy machine, not a speed target. */
const SLOWLORIS_TIMEOUT_MS = 60_000;

describe.each(bars)('%s: chaos', (_label, openBar) => {
  it('limiter.close() under load: the line hears 503 CLOSED, singers finish, idle() resolves', async () => {
    const bar = await openBar({ limit: 4, maxQueue: 8, queueTimeoutMs: 60_000 });
    const { limiter, stage, port } = bar;

    // Four rooms busy (one streaming, one whose guest will walk out), a full
    // line, and guests turned away.
    const singing = times(2, () => call(port, '/sing'));
    const leaver = open(port, '/sing?leaver');
    const streaming = call(port, '/stream');
    await until(() => expect(stage.entered).toBe(4));
    await streaming.firstChunk;
    const line = times(8, () => call(port, '/sing'));
    await until(() => expect(limiter.waiting).toBe(8));
    const turnedAway = await Promise.all(times(3, () => call(port, '/sing').reply));
    for (const reply of turnedAway) expect(shape(reply)).toEqual(rejected('QUEUE_FULL'));

    let idle = false;
    const idled = limiter.idle().then(() => {
      idle = true;
    });
    await limiter.close();

    // Everyone in line is told at once; the rooms stay busy.
    for (const reply of await Promise.all(line.map((c) => c.reply))) {
      expect(shape(reply)).toEqual(rejected('CLOSED'));
    }
    expect(limiter.waiting).toBe(0);
    expect(limiter.inUse).toBe(4);
    // Later guests too, without touching a handler.
    for (const reply of await Promise.all(times(3, () => call(port, '/sing').reply))) {
      expect(shape(reply)).toEqual(rejected('CLOSED'));
    }
    expect(stage.entered).toBe(4);

    // A guest walks out mid-song. Express, the guard and the Fastify hook free
    // the room when the connection closes; Koa keeps it until the handler is
    // done (the work goes on).
    leaver.destroy();
    await until(() => expect(bar.closed).toEqual(['/sing?leaver']));
    expect(limiter.inUse).toBe(bar.framework === 'koa' ? 4 : 3);
    expect(idle).toBe(false);

    // The singers finish their songs, and the bar is idle.
    stage.openAll();
    for (const reply of await Promise.all(singing.map((c) => c.reply))) {
      expect([reply.status, reply.body]).toEqual([200, 'sang']);
    }
    const streamed = await streaming.reply;
    expect([streamed.status, streamed.body]).toEqual([200, 'la la']);
    await idled;
    expect(limiter.inUse).toBe(0);
    expect(stage.entered).toBe(4);
    expect(limiter.counters).toEqual({
      acquired: 4,
      released: 4,
      rejected: { queue_full: 3, timeout: 0, aborted: 0, closed: 11, unavailable: 0 },
    });
  });

  it('server.close() under load: admitted and queued requests finish, permits come back, the server closes', async () => {
    const bar = await openBar({ limit: 4, maxQueue: 8, queueTimeoutMs: 60_000 });
    const { limiter, stage, port, server } = bar;
    const keepAlive = new http.Agent({ keepAlive: true });
    onTestFinished(() => keepAlive.destroy());

    // Rooms busy (on fresh and on kept-alive connections, one streaming) and a line.
    const inside = [
      ...times(2, () => call(port, '/sing')),
      call(port, '/sing', keepAlive),
      call(port, '/stream', keepAlive),
    ];
    await until(() => expect(stage.entered).toBe(4));
    const line = [
      ...times(5, () => call(port, '/sing')),
      ...times(3, () => call(port, '/sing', keepAlive)),
    ];
    await until(() => expect(limiter.waiting).toBe(8));

    let closed = false;
    const serverClosed = new Promise<void>((resolve) =>
      server.close(() => {
        closed = true;
        resolve();
      }),
    );
    // The door is shut to new connections...
    await expect(call(port, '/sing').reply).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(closed).toBe(false);
    expect([limiter.inUse, limiter.waiting]).toEqual([4, 8]);

    // ...but everyone inside and in line is served.
    stage.openAll();
    const replies = await Promise.all([...inside, ...line].map((c) => c.reply));
    expect(replies.map((r) => [r.status, r.body])).toEqual([
      ...times(3, () => [200, 'sang']),
      [200, 'la la'],
      ...times(8, () => [200, 'sang']),
    ]);
    // Node keeps a kept-alive connection open until its keep-alive timeout
    // even when closing; a graceful shutdown hangs those up once they are idle.
    server.closeIdleConnections();
    await serverClosed;
    await limiter.idle();
    expect([limiter.inUse, limiter.waiting]).toEqual([0, 0]);
    expect(stage.entered).toBe(12);
    expect(limiter.counters).toEqual({
      acquired: 12,
      released: 12,
      rejected: { queue_full: 0, timeout: 0, aborted: 0, closed: 0, unavailable: 0 },
    });
  });

  it(
    'slowloris: 2,000 sockets that queue and vanish, in waves; the line drains and memory stays bounded',
    async () => {
      const MAX_QUEUE = 200;
      const WARMUP_WAVES = 4; // not measured: the JIT and Node's own pools settle
      const WAVES = 10; // 2,000 sockets that queue and vanish
      const EXTRA = 50; // beyond the line: turned away each wave
      const bar = await openBar({ limit: 4, maxQueue: MAX_QUEUE, queueTimeoutMs: 60_000 });
      const { limiter, stage, port } = bar;

      // Every room is taken for the whole test: nobody in line is ever admitted.
      const singing = times(4, () => call(port, '/sing'));
      await until(() => expect(stage.entered).toBe(4));

      const heaps: number[] = [];
      let turnedAway = 0;
      for (let wave = 1; wave <= WARMUP_WAVES + WAVES; wave++) {
        const sockets = raid(port, MAX_QUEUE + EXTRA);
        // The line fills to maxQueue; the rest are turned away in full.
        await until(() => {
          expect(limiter.waiting).toBe(MAX_QUEUE);
          expect(sockets.filter((s) => s.seen.ended)).toHaveLength(EXTRA);
        });
        for (const { seen } of sockets.filter((s) => s.seen.ended)) {
          expect(seen.data).toMatch(/^HTTP\/1\.1 503 /);
          expect(seen.data).toMatch(/\r\nRetry-After: \d+\r\n/i);
          expect(seen.data.endsWith('Service Unavailable (QUEUE_FULL)\n')).toBe(true);
          turnedAway++;
        }
        // Everyone in line vanishes.
        for (const { socket, seen } of sockets) if (!seen.ended) socket.destroy();
        await until(() => expect(limiter.waiting).toBe(0));
        expect(limiter.counters.rejected.aborted).toBe(wave * MAX_QUEUE);
        // The heap once the line has drained, after the warm-up and at the end.
        if (wave === WARMUP_WAVES || wave === WARMUP_WAVES + WAVES) {
          heaps.push(Math.min(...(await heapAfterGc(5))));
        }
      }

      expect(bar.peakWaiting).toBe(MAX_QUEUE);
      expect(stage.entered).toBe(4);
      expect(turnedAway).toBe((WARMUP_WAVES + WAVES) * EXTRA);
      // Nothing of the vanished guests is still held: each of their server-side
      // responses has been garbage-collected...
      expect(bar.queuedResponses).toBe((WARMUP_WAVES + WAVES) * MAX_QUEUE);
      const gc = exposeGc();
      await until(() => {
        gc();
        expect(bar.collectedResponses).toBe(bar.queuedResponses);
      });
      // ...and the heap is back where it was after the first wave.
      const [baseline, end] = heaps as [number, number];
      expect(
        end,
        `heap after GC: ${baseline} bytes after the warm-up, ${end} after ${WAVES * MAX_QUEUE} more vanished`,
      ).toBeLessThanOrEqual(baseline * 1.05);

      stage.openAll();
      for (const reply of await Promise.all(singing.map((c) => c.reply))) {
        expect([reply.status, reply.body]).toEqual([200, 'sang']);
      }
      await limiter.idle();
      expect(limiter.counters).toEqual({
        acquired: 4,
        released: 4,
        rejected: {
          queue_full: (WARMUP_WAVES + WAVES) * EXTRA,
          timeout: 0,
          aborted: (WARMUP_WAVES + WAVES) * MAX_QUEUE,
          closed: 0,
          unavailable: 0,
        },
      });
    },
    SLOWLORIS_TIMEOUT_MS,
  );
});
