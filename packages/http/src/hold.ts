import type { ServerResponse } from 'node:http';
import type { Permit, ReleaseOutcome } from '@doorman/semaphore';
import { socketDead } from './client-gone.js';

/**
 * One request's place under one limit, from the door to the release. The
 * permit comes back once the work is over, which takes two things: every
 * handler the adapter can see has settled (`running` back to 0), and the
 * response is over (`ended`: it finished or closed, or its request is gone
 * with the socket). Whichever comes second releases, exactly once, saying
 * how the work ended.
 */
export class Hold {
  /** Undefined while the request waits in line. */
  permit: Permit | undefined = undefined;
  /** Handlers running under this hold that the adapter can see settle. */
  running = 0;
  /** The response is over: finished, closed, or its request gone with its socket. */
  ended = false;
  /** The client left before its response finished. */
  left = false;
  /** A handler under this hold failed (threw or rejected with a status >= 500). */
  failed = false;
  /** While the request waits in line: aborts the wait when the client leaves. */
  controller: AbortController | undefined = undefined;
  readonly res: ServerResponse;

  constructor(res: ServerResponse) {
    this.res = res;
  }

  /** The response is over. While waiting, that means leaving the line. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.res.writableFinished) this.left = true;
    if (this.permit !== undefined) {
      if (this.running !== 0) return;
      // A dead connection closes the running response at once, but the
      // requests pipelined behind it hear of it a tick later: released now,
      // the permit would go to one of them, admitted for nobody. Once they
      // have left the line, it goes to whoever waits elsewhere.
      if (this.left && socketDead(this.res.req)) setImmediate(releaseHold, this);
      else this.release();
    } else if (this.controller !== undefined) this.controller.abort();
  }

  /** The response broke (a body stream failed): the work is over, and it failed. */
  fail(): void {
    this.failed = true;
    if (this.ended) return;
    this.ended = true;
    if (this.permit !== undefined && this.running === 0) this.release();
  }

  /** A handler under this hold has settled; `failed` if it threw or rejected. */
  settled(failed: boolean): void {
    this.running--;
    if (failed) this.failed = true;
    if (this.ended && this.running === 0) this.release();
  }

  /** @internal */
  release(): void {
    this.permit?.release(this.outcome());
  }

  private outcome(): ReleaseOutcome {
    // A client that left first makes the time meaningless, even if the work
    // then failed (often because it was cancelled for that client).
    if (this.left) return 'ignored';
    if (this.failed || this.res.statusCode >= 500) return 'dropped';
    return 'success';
  }
}

function releaseHold(hold: Hold): void {
  hold.release();
}

/** Whether an error thrown by a handler means the work failed (not a client error such as a 404). */
export function isFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return typeof code !== 'number' || code >= 500;
}
