import { IncomingMessage, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { requestSignal } from '../src/index.js';
import { deferred, get, open, rawSocket, until, useServers } from './node-http-kit.js';

describe('requestSignal', () => {
  const serve = useServers();

  it('aborts when the client leaves while the handler works', async () => {
    const signals: AbortSignal[] = [];
    const port = await serve((req, res) => {
      signals.push(requestSignal(req, res));
    });
    const client = open(port, '/');
    await until(() => expect(signals).toHaveLength(1));
    expect(signals[0]?.aborted).toBe(false);
    client.req.destroy();
    await until(() => expect(signals[0]?.aborted).toBe(true));
  });

  it('does not abort once the response has finished, even when the client then leaves', async () => {
    const signals: AbortSignal[] = [];
    const finished = deferred();
    const port = await serve((req, res) => {
      const signal = requestSignal(req, res);
      signals.push(signal);
      res.on('finish', () => finished.resolve());
      res.end('done');
    });
    expect((await get(port, '/')).body).toBe('done');
    await finished.promise;
    await until(() => expect(signals).toHaveLength(1));
    // The connection closed (no keep-alive agent) after the response finished.
    expect(signals[0]?.aborted).toBe(false);
  });

  it('is the same signal on every call for one request', async () => {
    const same: boolean[] = [];
    const port = await serve((req, res) => {
      const first = requestSignal(req, res);
      same.push(first === requestSignal(req, res) && first === requestSignal(req));
      res.end();
    });
    await get(port, '/');
    expect(same).toEqual([true]);
  });

  it('aborts for a pipelined request whose connection dies before its response gets the socket', async () => {
    const signals = new Map<string, AbortSignal>();
    const responses = new Map<string, ServerResponse>();
    const port = await serve((req, res) => {
      signals.set(req.url ?? '', requestSignal(req, res));
      responses.set(req.url ?? '', res);
    });
    const socket = await rawSocket(
      port,
      'GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    await until(() => expect(signals.size).toBe(2));
    // The second response waits behind the first: it has no socket to close.
    expect(responses.get('/second')?.socket ?? null).toBeNull();
    socket.destroy();
    await until(() => {
      expect(signals.get('/first')?.aborted).toBe(true);
      expect(signals.get('/second')?.aborted).toBe(true);
    });
  });

  it('throws a TypeError for a request without its response (node:http does not link them)', () => {
    const req = new IncomingMessage(new Socket());
    expect(() => requestSignal(req)).toThrow(TypeError);
    expect(() => requestSignal(req)).toThrow(/requestSignal\(req, res\)/);
    expect(() => requestSignal({} as never)).toThrow(TypeError);
  });
});
