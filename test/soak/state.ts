/**
 * What the soak server's apps share: the tallies it reports, how a request
 * says what to do (`x-kind`, `x-hold`), and the probes that record what the
 * limiter did with it. One copy per server process.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Semaphore } from '@doorman/semaphore';
import type { ServerStats, SoakConfig } from './protocol.js';

export const config = JSON.parse(process.env['SOAK_CONFIG'] ?? '{}') as SoakConfig;

export const stats: ServerStats['server'] = {
  arrived: 0,
  upstreamLeft: 0,
  gated: 0,
  queued: 0,
  queuedLeft: 0,
  started: 0,
  startedAfterQueuedLeave: 0,
  admittedLeft: 0,
  streamLeft: 0,
  errors: 0,
  peakInUse: 0,
  peakWaiting: 0,
  otherErrors: {},
  pipeGated: 0,
  pipeStarted: 0,
};

/** A soak app: its server (not listening yet), its limiter, and the pipelined route's limiter. */
export interface SoakApp {
  server: Server;
  sem: Semaphore;
  pipe: Semaphore;
}

/** The main limit, and the pipelined route's own (small, so its line fills and dies with the socket). */
export const limitOptions = {
  limit: config.limit,
  maxQueue: config.maxQueue,
  queueTimeoutMs: config.queueTimeoutMs,
  name: 'soak',
};
export const pipeOptions = {
  limit: 2,
  maxQueue: 4,
  queueTimeoutMs: config.queueTimeoutMs,
  name: 'pipe',
};

/** Errors other than the handlers' own, by code or message (a bounded set). */
export function noteOther(error: Error): void {
  const name = (error as { code?: string }).code ?? error.message.slice(0, 60);
  stats.otherErrors[name] = (stats.otherErrors[name] ?? 0) + 1;
}

/** Set on a request whose client was told to leave while it was queued. */
const toldToLeaveQueued = Symbol('soak.toldToLeaveQueued');
type Marked = { [toldToLeaveQueued]?: true };

/**
 * A fixed ring of weak references to a sample of the requests served: after
 * a forced GC none may still be alive (a retained request would be a leak).
 * Fixed size, so the probe itself does not grow the heap.
 */
export const ring: Array<WeakRef<object> | undefined> = new Array(256).fill(undefined);
let ringNext = 0;
let sampleEvery = 0;
export function track(req: object): void {
  if (++sampleEvery % 37 !== 0) return;
  ring[ringNext] = new WeakRef(req);
  ringNext = (ringNext + 1) % ring.length;
}

export function kindOf(req: IncomingMessage): string {
  const kind = req.headers['x-kind'];
  return typeof kind === 'string' ? kind : 'ok';
}
export function holdOf(req: IncomingMessage): number {
  return Number(req.headers['x-hold'] ?? 0);
}
/** Calls `fn` after `ms` (0: after one event-loop turn). */
export function after(ms: number, fn: () => void): void {
  if (ms > 0) setTimeout(fn, ms);
  else setImmediate(fn);
}
export const turn = (ms: number) => new Promise<void>((resolve) => after(ms, resolve));
export const closeOf = (res: ServerResponse) =>
  new Promise<void>((resolve) => {
    if (res.closed) resolve();
    else res.once('close', () => resolve());
  });

/** Records what the limiter looks like right after a request met it. */
export function observe(
  sem: Semaphore,
  before: number,
  admittedNow: boolean,
  req: IncomingMessage,
): boolean {
  if (sem.waiting > stats.peakWaiting) stats.peakWaiting = sem.waiting;
  if (admittedNow || sem.waiting <= before) return false;
  stats.queued++;
  if (kindOf(req) !== 'leave-queued') return false;
  stats.queuedLeft++;
  (req as Marked)[toldToLeaveQueued] = true;
  return true;
}

export function started(sem: Semaphore, req: IncomingMessage): void {
  stats.started++;
  if ((req as Marked)[toldToLeaveQueued]) stats.startedAfterQueuedLeave++;
  if (sem.inUse > stats.peakInUse) stats.peakInUse = sem.inUse;
}

/**
 * The work kinds whose answer is written on Node's own response (Express, the
 * guard): `stream` writes a, b, c a turn apart; `leave-admitted` and
 * `leave-streaming` say they started and wait for the client to go. Returns
 * false for the other kinds, which the caller answers in its own idiom.
 */
export function answerOnResponse(kind: string, res: ServerResponse): boolean {
  switch (kind) {
    case 'stream':
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('a');
      setImmediate(() => {
        res.write('b');
        setImmediate(() => res.end('c'));
      });
      return true;
    case 'leave-admitted':
      res.once('close', () => {
        stats.admittedLeft++;
      });
      res.writeProcessing();
      return true;
    case 'leave-streaming':
      res.once('close', () => {
        stats.streamLeft++;
      });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first');
      return true;
    default:
      return false;
  }
}

/**
 * The pipelined route's handler, on a bare response: the head (`pipe-hold`)
 * says it started (102) and holds until its connection dies; the others
 * answer at once, into a pipeline that never gets its socket.
 */
export function pipeHandler(req: IncomingMessage, res: ServerResponse): void {
  stats.pipeStarted++;
  if (kindOf(req) === 'pipe-hold') res.writeProcessing();
  else res.end('ok');
}

export async function* chunks(): AsyncGenerator<string> {
  yield 'a';
  await turn(0);
  yield 'b';
  await turn(0);
  yield 'c';
}
