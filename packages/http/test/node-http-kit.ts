import http, { type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import net from 'node:net';
import { afterEach, vi } from 'vitest';

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Serves listeners on ephemeral ports; closes them and their connections after each test. */
export function useServers(): (listener: RequestListener) => Promise<number> {
  const servers = new Set<Server>();
  afterEach(async () => {
    await Promise.all(
      [...servers].map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
    servers.clear();
  });
  return (listener) =>
    new Promise<number>((resolve, reject) => {
      const server = http.createServer(listener);
      servers.add(server);
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends a GET on its own connection; `req.destroy()` walks away. */
export function open(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): { req: http.ClientRequest; reply: Promise<Reply> } {
  const reply = deferred<Reply>();
  const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false });
  req.on('error', (error) => reply.reject(error));
  req.on('response', (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      body += chunk;
    });
    res.on('end', () => reply.resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    res.on('error', (error) => reply.reject(error));
  });
  reply.promise.catch(() => {});
  return { req, reply: reply.promise };
}

export function get(port: number, path: string, headers?: Record<string, string>): Promise<Reply> {
  return open(port, path, headers).reply;
}

/** Writes raw bytes (pipelined requests) on a fresh connection; the test destroys it. */
export async function rawSocket(port: number, data: string): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(data);
  return socket;
}

/** Waits (polling, never a fixed sleep) until `check` stops throwing. */
export function until(check: () => void): Promise<void> {
  return vi.waitFor(check, { interval: 2, timeout: 5000 });
}
