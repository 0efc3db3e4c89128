/**
 * The soak's clients: the kinds of request, what each client saw, and the
 * requests themselves (over keep-alive sockets, on a socket of their own for
 * the clients that walk away, and raw pipelined connections that die).
 */
import http from 'node:http';
import net from 'node:net';

/**
 * What a request asks of the server. `ok`, `throw`, `fail` (`next(err)` in
 * Express, a rejection in Koa) and `stream` describe the handler; the
 * `leave-*` kinds are clients that walk away at one stage: during an
 * upstream async step (before the limiter), while queued, once admitted (the
 * handler has started), and mid-stream (after the first body chunk). A
 * `leave-queued` request that is not queued stays and is answered as `ok`.
 */
export const kinds = [
  'ok',
  'throw',
  'fail',
  'stream',
  'leave-upstream',
  'leave-queued',
  'leave-admitted',
  'leave-streaming',
] as const;
export type Kind = (typeof kinds)[number];

export const weights: Record<Kind, number> = {
  ok: 40,
  throw: 5,
  fail: 6,
  stream: 8,
  'leave-upstream': 4,
  'leave-queued': 14,
  'leave-admitted': 4,
  'leave-streaming': 4,
};

/** What the clients saw, by outcome. */
export interface ClientTally {
  sent: number;
  byKind: Record<Kind, number>;
  /** 200 `ok`. */
  ok: number;
  /** 200 with the whole streamed body. */
  streamed: number;
  /** 500 from a handler that threw or failed. */
  failed: number;
  /** 503 naming QUEUE_FULL, with Retry-After. */
  queueFull: number;
  /** 503 naming QUEUE_TIMEOUT, with Retry-After. */
  queueTimeout: number;
  leftUpstream: number;
  leftQueued: number;
  leftAdmitted: number;
  leftStreaming: number;
  /**
   * Pipelined connections: three requests in one write to a route with a
   * limit of its own, the socket destroyed once the first answer starts, so
   * the rest die queued or answered into a pipeline that never gets a socket.
   */
  pipelined: number;
  /** Anything else: an error on a connection the client kept, a wrong answer. */
  unexpected: number;
  unexpectedSamples: string[];
}

export const newTally = (): ClientTally => ({
  sent: 0,
  byKind: Object.fromEntries(kinds.map((k) => [k, 0])) as Record<Kind, number>,
  ok: 0,
  streamed: 0,
  failed: 0,
  queueFull: 0,
  queueTimeout: 0,
  leftUpstream: 0,
  leftQueued: 0,
  leftAdmitted: 0,
  leftStreaming: 0,
  pipelined: 0,
  unexpected: 0,
  unexpectedSamples: [],
});

export type Outcome =
  | { left: 'upstream' | 'queued' | 'admitted' | 'streaming' }
  | { status: number; body: string; retryAfter: string | undefined }
  | { error: string };

/** Sends one request and resolves with what the client saw. Never rejects. */
export function send(
  port: number,
  agent: http.Agent,
  kind: Kind,
  hold: number,
  upstream: boolean,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const leaving = kind.startsWith('leave-');
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const headers: Record<string, string> = { 'x-kind': kind, 'x-hold': String(hold) };
    if (upstream) headers['x-upstream'] = 'async';
    // The clients that walk away use a socket of their own; the rest keep theirs alive.
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/soak',
      headers,
      agent: leaving ? false : agent,
    });
    const leave = (stage: 'upstream' | 'queued' | 'admitted' | 'streaming') => {
      settle({ left: stage });
      req.destroy();
    };
    req.on('information', (info) => {
      if (info.statusCode !== 102 || !leaving) {
        settle({ error: `unexpected ${info.statusCode} for ${kind}` });
        return;
      }
      if (kind === 'leave-upstream') leave('upstream');
      else if (kind === 'leave-queued') leave('queued');
      else if (kind === 'leave-admitted') leave('admitted');
      else settle({ error: `unexpected 102 for ${kind}` });
    });
    req.on('response', (res) => {
      if (settled) {
        res.resume();
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (kind === 'leave-streaming' && res.statusCode === 200) leave('streaming');
      });
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        settle({ status: res.statusCode ?? 0, body, retryAfter });
      });
      res.on('error', (error) => settle({ error: `response: ${error.message}` }));
      res.on('aborted', () => settle({ error: 'response aborted' }));
    });
    req.on('error', (error) => settle({ error: `request: ${error.message}` }));
    req.end();
  });
}

/** One pipelined connection (see `ClientTally.pipelined`); resolves when it has closed. */
export function pipeline(port: number): Promise<void> {
  const request = (kind: string) => `GET /pipe HTTP/1.1\r\nHost: soak\r\nx-kind: ${kind}\r\n\r\n`;
  return new Promise<void>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('connect', () =>
      socket.write(request('pipe-hold') + request('pipe-ok') + request('pipe-ok')),
    );
    socket.once('data', () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

export function record(tally: ClientTally, kind: Kind, outcome: Outcome): void {
  const wrong = (what: string) => {
    tally.unexpected++;
    if (tally.unexpectedSamples.length < 20) tally.unexpectedSamples.push(`${kind}: ${what}`);
  };
  if ('error' in outcome) {
    wrong(outcome.error);
    return;
  }
  if ('left' in outcome) {
    if (outcome.left === 'upstream') tally.leftUpstream++;
    else if (outcome.left === 'queued') tally.leftQueued++;
    else if (outcome.left === 'admitted') tally.leftAdmitted++;
    else tally.leftStreaming++;
    return;
  }
  const { status, body, retryAfter } = outcome;
  if (status === 503) {
    if (retryAfter === undefined || !/^\d+$/.test(retryAfter)) wrong(`503 without Retry-After`);
    else if (body === 'Service Unavailable (QUEUE_FULL)\n') tally.queueFull++;
    else if (body === 'Service Unavailable (QUEUE_TIMEOUT)\n') tally.queueTimeout++;
    else wrong(`503 ${JSON.stringify(body)}`);
    return;
  }
  // Everything else must be what the handler of this kind answers.
  if ((kind === 'ok' || kind === 'leave-queued') && status === 200 && body === 'ok') tally.ok++;
  else if (kind === 'stream' && status === 200 && body === 'abc') tally.streamed++;
  else if ((kind === 'throw' || kind === 'fail') && status === 500) tally.failed++;
  else wrong(`${status} ${JSON.stringify(body.slice(0, 80))}`);
}
