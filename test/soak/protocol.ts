import type { LimiterCounters } from '@doorman/semaphore';

/** How the soak server's limiter is set up. */
export interface SoakConfig {
  limit: number;
  maxQueue: number;
  queueTimeoutMs: number;
}

export interface LimiterNumbers {
  inUse: number;
  waiting: number;
  counters: LimiterCounters;
}

/** What the server counted, and the limiter's own numbers. */
export interface ServerStats {
  server: {
    /** Requests that reached the first middleware. */
    arrived: number;
    /** `leave-upstream` requests whose client left during the upstream step. */
    upstreamLeft: number;
    /** Requests that reached the limiter (including those whose client had left). */
    gated: number;
    /** Requests the limiter queued. */
    queued: number;
    /** `leave-queued` requests told (by a 102) that they were queued: their clients leave. */
    queuedLeft: number;
    /** Handlers started. */
    started: number;
    /** Handlers started for a request whose client had been told to leave while queued. */
    startedAfterQueuedLeave: number;
    /** `leave-admitted` handlers that saw their client go. */
    admittedLeft: number;
    /** `leave-streaming` bodies cut off by their client going. */
    streamLeft: number;
    /** Handler errors that reached the framework's error path. */
    errors: number;
    /** Most permits in use seen by a starting handler. */
    peakInUse: number;
    /** Most waiters seen right after a request met the limiter. */
    peakWaiting: number;
    /** Errors other than the handlers' own that reached the error path, by code. */
    otherErrors: Record<string, number>;
    /** Requests of pipelined connections that reached their route's limiter... */
    pipeGated: number;
    /** ...and whose handler started. */
    pipeStarted: number;
  };
  limiter: LimiterNumbers;
  /** The pipelined route's own limiter. */
  pipe: LimiterNumbers;
  /** CPU time the server process has used, in ms (for the record, never asserted). */
  cpuMs: number;
}

export interface HeapSample {
  /** `heapUsed` after each of several forced full GCs, in bytes. */
  heapUsed: number[];
  /** Bytes used in each V8 heap space after the last GC. */
  spaces: Record<string, number>;
  /** Weak references to a sample of recent requests... */
  trackedRequests: number;
  /** ...and how many of them a forced GC could not collect. */
  aliveRequests: number;
}

export type ToServer = { type: 'stats' } | { type: 'heap'; samples: number } | { type: 'stop' };

export type ToParent =
  | { type: 'ready'; port: number }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'heap'; sample: HeapSample };
