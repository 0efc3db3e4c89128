import type { RejectionReason } from './errors.js';
import type { LimiterCounters } from './limiter.js';

/** A limiter's cumulative counts, kept as plain fields so counting is one increment. */
export class Counts {
  acquired = 0;
  released = 0;
  queueFull = 0;
  timeout = 0;
  aborted = 0;
  closed = 0;
  unavailable = 0;

  count(reason: RejectionReason): void {
    if (reason === 'queue_full') this.queueFull++;
    else if (reason === 'timeout') this.timeout++;
    else if (reason === 'aborted') this.aborted++;
    else if (reason === 'closed') this.closed++;
    else if (reason === 'unavailable') this.unavailable++;
  }

  snapshot(): LimiterCounters {
    return {
      acquired: this.acquired,
      released: this.released,
      rejected: {
        queue_full: this.queueFull,
        timeout: this.timeout,
        aborted: this.aborted,
        closed: this.closed,
        unavailable: this.unavailable,
      },
    };
  }
}
