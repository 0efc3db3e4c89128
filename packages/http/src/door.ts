import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { clientGone, socketDead, waitsForSocket, watchSocket } from './client-gone.js';
import type { Gate } from './gate.js';
import { Hold } from './hold.js';
import { type HttpRejection, rejectionBody, writeRejection } from './rejection.js';

/** `enter` results besides a `Hold`: go on without a permit (skipped, or already through this door). */
export const PASS = 1;
/** The client is gone: do nothing more for this request. */
export const GONE = 2;
/** This middleware's own line is full: refuse at once (`door.lineFull()` builds the error if needed). */
export const FULL = 3;

/** What `enter` and a wait in line come to. */
export type Entry = Hold | typeof PASS | typeof GONE | typeof FULL | Promise<Waited>;
/** What a wait in line comes to: admitted, refused, or the client left meanwhile. */
export type Waited = Hold | HttpRejection | typeof GONE;

type Holding = IncomingMessage & { [slot: symbol]: Hold | undefined };

/**
 * The life of a request at one middleware, written once for every framework:
 * skip → admit or queue → hold → release. Adapters call `enter` and act on
 * what it returns; the door attaches what sees the request end before
 * anything is awaited, so nothing that happens while the request waits is
 * missed, and releases the permit once the work is over (see `Hold`).
 *
 * The door marks each request it lets through under its own slot, so a
 * request that meets the same middleware twice is admitted once and released
 * once, and `wrap` can extend that hold.
 */
export class Door<Req> {
  readonly gate: Gate<Req>;
  private readonly slot: symbol;
  /** Requests of this door waiting in line now. */
  private waiting = 0;
  // One listener of each kind per door, shared by every request: no closure per request.
  private readonly onResponseClose: (this: ServerResponse) => void;
  private readonly onRequestClose: (this: IncomingMessage) => void;
  // The default refusal of a full line, made once: no error, no header object per refusal.
  private readonly fullBody: string;
  private readonly fullHead: string[] | undefined;

  constructor(gate: Gate<Req>) {
    this.gate = gate;
    this.fullBody = rejectionBody(gate.statusCode, 'QUEUE_FULL');
    const retryAfter = gate.fixedRetryAfter;
    this.fullHead =
      retryAfter === undefined
        ? undefined
        : [
            'Retry-After',
            retryAfter,
            'Content-Type',
            'text/plain; charset=utf-8',
            'Content-Length',
            String(this.fullBody.length),
            'Cache-Control',
            'no-store',
          ];
    const slot = Symbol('doorman.hold');
    this.slot = slot;
    this.onResponseClose = function onResponseClose(this: ServerResponse): void {
      (this.req as Holding)[slot]?.end();
    };
    this.onRequestClose = function onRequestClose(this: IncomingMessage): void {
      const hold = (this as Holding)[slot];
      if (hold === undefined || hold.ended) return;
      if (socketDead(this)) hold.end();
      else if (waitsForSocket(hold.res))
        watchSocket(this.socket as Socket, hold.res, () => hold.end());
    };
  }

  /** This door's hold on a request that has passed it, if any. */
  holdOf(req: IncomingMessage): Hold | undefined {
    return (req as Holding)[this.slot];
  }

  /**
   * The door, for one request. `sees` is whether the adapter will tell when
   * the handler settles (`hold.settled`): the hold then starts with one
   * running handler. Throws what the user's functions throw (skip, key,
   * weight): that goes down the framework's error path.
   */
  enter(req: Req, raw: IncomingMessage, res: ServerResponse, sees: boolean): Entry {
    if ((raw as Holding)[this.slot] !== undefined) return PASS;
    if (clientGone(raw, res)) return GONE;
    const gate = this.gate;
    if (gate.skips(req)) return PASS;
    const key = gate.keyOf(req);
    const weight = gate.weightOf(req);
    const permit = gate.tryAcquire(key, weight);
    if (permit === undefined && this.waiting >= gate.lineBound) return FULL;
    const hold = new Hold(res);
    (raw as Holding)[this.slot] = hold;
    res.on('close', this.onResponseClose);
    raw.on('close', this.onRequestClose);
    if (permit !== undefined) {
      hold.permit = permit;
      if (sees) hold.running = 1;
      return hold;
    }
    return this.wait(req, hold, key, weight, sees);
  }

  /** The refusal of a request that found this middleware's line full, as an error (counted). */
  lineFull(): HttpRejection {
    return this.gate.lineFull();
  }

  /** Writes the default refusal of a request that found the line full (counted). */
  refuseLineFull(res: ServerResponse): void {
    if (this.fullHead === undefined || res.headersSent) {
      writeRejection(res, this.gate.lineFull());
      return;
    }
    this.gate.countLineFull();
    res.writeHead(this.gate.statusCode, this.fullHead);
    res.end(this.fullBody);
  }

  private wait(
    req: Req,
    hold: Hold,
    key: string | undefined,
    weight: number,
    sees: boolean,
  ): Promise<Waited> {
    const controller = new AbortController();
    hold.controller = controller;
    this.waiting++;
    return this.gate.acquire(req, key, weight, controller.signal).then(
      (permit) => {
        this.waiting--;
        hold.controller = undefined;
        hold.permit = permit;
        // Admitted in the same tick as the client left: nothing to do the work for.
        if (hold.ended) {
          permit.release('ignored');
          return GONE;
        }
        if (sees) hold.running = 1;
        return hold;
      },
      (error: unknown) => {
        this.waiting--;
        hold.controller = undefined;
        if (hold.ended) return GONE; // left while queued; the limiter counted it as aborted
        const rejection = this.gate.httpRejection(error);
        if (rejection === undefined) throw error;
        return rejection;
      },
    );
  }
}
