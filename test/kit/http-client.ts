import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { type Deferred, deferred } from './deferred.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Default: a connection of its own (no keep-alive). */
  agent?: http.Agent | false;
}

export interface Call {
  /** The client side of the request. */
  req: http.ClientRequest;
  /** The whole response. Rejects if the connection fails or was aborted. */
  reply: Promise<Reply>;
  /** The response head, before the body has ended. */
  head: Promise<IncomingMessage>;
  /** The reply, or `'aborted'` once `abort()` was called before a whole reply came. */
  outcome: Promise<Reply | 'aborted'>;
  /** The body chunks received so far, in order. */
  chunks: string[];
  /** Resolves once `n` body chunks have arrived in total. */
  whenChunks(n: number): Promise<void>;
  /** Destroys the socket: the client goes away. */
  abort(): void;
}

/** One request to 127.0.0.1:`port`, held by the test. Never an unhandled rejection. */
export function call(port: number, path: string, options: CallOptions = {}): Call {
  let aborted = false;
  const chunks: string[] = [];
  const chunkWaiters: Array<{ n: number; done: Deferred<void> }> = [];
  const req = http.request({
    host: '127.0.0.1',
    port,
    path,
    method: options.method ?? 'GET',
    headers: options.headers,
    agent: options.agent ?? false,
  });
  const head = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  const reply = head.then(
    (res) =>
      new Promise<Reply>((resolve, reject) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          chunks.push(chunk);
          for (let i = chunkWaiters.length - 1; i >= 0; i--) {
            const waiter = chunkWaiters[i] as { n: number; done: Deferred<void> };
            if (chunks.length >= waiter.n) {
              chunkWaiters.splice(i, 1);
              waiter.done.resolve();
            }
          }
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.join('') }),
        );
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
      }),
  );
  const outcome = reply.then<Reply | 'aborted', 'aborted'>(
    (r) => r,
    (error: unknown) => {
      if (aborted) return 'aborted';
      throw error;
    },
  );
  // Aborted calls reject by design; tests read `outcome` for those.
  head.catch(() => {});
  reply.catch(() => {});
  outcome.catch(() => {});
  req.end();
  return {
    req,
    reply,
    head,
    outcome,
    chunks,
    whenChunks(n) {
      if (chunks.length >= n) return Promise.resolve();
      const done = deferred();
      chunkWaiters.push({ n, done });
      return done.promise;
    },
    abort() {
      aborted = true;
      req.destroy();
    },
  };
}

/** Sends a request and resolves with its reply. */
export function get(port: number, path: string, options: CallOptions = {}): Promise<Reply> {
  return call(port, path, options).reply;
}
