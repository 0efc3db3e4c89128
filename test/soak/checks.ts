import { expect } from 'vitest';
import type { Checkpoint, SoakReport } from './driver.js';

/** Requests the long form (`pnpm soak`) sends; the CI form sends fewer. */
export const soakRequests = Number(process.env['SOAK_REQUESTS'] ?? 10_000);

/** Generous: a liveness bound for the run, not a speed target. */
export const soakTimeoutMs = 120_000 + soakRequests * 5;

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`;
const min = (values: number[]) => Math.min(...values);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/**
 * Pipelined connections that die: every request of them reached its limit,
 * each was admitted or refused exactly once, and every permit came back.
 */
function checkPipelined(report: SoakReport): void {
  const last = report.checkpoints.at(-1) as Checkpoint;
  const { pipeGated, pipeStarted } = last.stats.server;
  const { acquired, released, rejected } = last.stats.pipe.counters;
  expect(report.client.pipelined, 'pipelined connections happened').toBeGreaterThan(0);
  expect(pipeGated).toBe(3 * report.client.pipelined);
  expect(released).toBe(acquired);
  expect(
    acquired + rejected.queue_full + rejected.timeout + rejected.aborted + rejected.closed,
  ).toBe(pipeGated);
  expect(acquired).toBeGreaterThan(0);
  expect(pipeStarted).toBeLessThanOrEqual(acquired);
}

/** One line per checkpoint: progress for the long form, numbers for the record. */
export function describeCheckpoint(checkpoint: Checkpoint, report: SoakReport): string {
  const { heap, stats, requests } = checkpoint;
  const c = stats.limiter.counters;
  return `[soak ${report.framework}] ${requests} requests in ${(checkpoint.elapsedMs / 1000).toFixed(1)} s (cpu: server ${(stats.cpuMs / 1000).toFixed(1)} s, clients ${(checkpoint.clientCpuMs / 1000).toFixed(1)} s): heap after GC min ${mb(min(heap.heapUsed))} median ${mb(median(heap.heapUsed))}; acquired ${c.acquired}, rejected ${JSON.stringify(c.rejected)}; sampled requests still alive ${heap.aliveRequests}/${heap.trackedRequests}; pipelined: gated ${stats.server.pipeGated}, counters ${JSON.stringify(stats.pipe.counters)}; old space ${mb(heap.spaces['old_space'] ?? 0)}, code space ${mb(heap.spaces['code_space'] ?? 0)}`;
}

/** What the clients saw over the whole run, in one line. */
export function describeClients(report: SoakReport): string {
  const { sent, byKind: _byKind, unexpectedSamples: _samples, ...outcomes } = report.client;
  const last = report.checkpoints.at(-1) as Checkpoint;
  const first = report.checkpoints[0] as Checkpoint;
  const growth = min(last.heap.heapUsed) / min(first.heap.heapUsed) - 1;
  return `[soak ${report.framework}] ${sent} requests, clients saw ${JSON.stringify(outcomes)}; heap after GC ${mb(min(first.heap.heapUsed))} after ${first.requests} (warm-up) -> ${mb(min(last.heap.heapUsed))} at the end (${(growth * 100).toFixed(2)}%)`;
}

/**
 * Everything a soak run must show: nothing held or queued at any quiet
 * point, counters that balance with what the clients saw and what the server
 * counted, every connected client answered, every path taken, and a heap
 * that did not grow from the end of the warm-up to the end of the run.
 */
export function checkSoak(report: SoakReport): void {
  const { client: c, checkpoints, config } = report;
  const first = checkpoints[0] as Checkpoint;
  const last = checkpoints.at(-1) as Checkpoint;
  const s = last.stats.server;
  const counters = last.stats.limiter.counters;
  const rejected = counters.rejected;

  // No permit leaked, nobody left in line, at every quiet point.
  for (const checkpoint of checkpoints) {
    const { limiter, pipe } = checkpoint.stats;
    expect(
      {
        inUse: limiter.inUse,
        waiting: limiter.waiting,
        pipeInUse: pipe.inUse,
        pipeWaiting: pipe.waiting,
      },
      `after ${checkpoint.requests} requests`,
    ).toEqual({ inUse: 0, waiting: 0, pipeInUse: 0, pipeWaiting: 0 });
  }
  checkPipelined(report);
  expect(s.peakInUse).toBeLessThanOrEqual(config.limit);
  expect(s.peakWaiting).toBeLessThanOrEqual(config.maxQueue);

  // Every client that stayed connected got the answer its kind calls for.
  expect(c.unexpectedSamples).toEqual([]);
  expect(c.unexpected).toBe(0);
  expect(
    c.ok +
      c.streamed +
      c.failed +
      c.queueFull +
      c.queueTimeout +
      c.leftUpstream +
      c.leftQueued +
      c.leftAdmitted +
      c.leftStreaming,
  ).toBe(c.sent);
  expect(s.arrived).toBe(c.sent);

  // Clients gone before the limiter: never counted, never admitted.
  expect(c.leftUpstream).toBe(c.byKind['leave-upstream']);
  expect(s.upstreamLeft).toBe(c.leftUpstream);
  expect(
    counters.acquired +
      rejected.queue_full +
      rejected.timeout +
      rejected.aborted +
      rejected.closed +
      rejected.unavailable,
  ).toBe(s.gated - s.upstreamLeft);

  // Every permit came back.
  expect(counters.released).toBe(counters.acquired);
  expect(rejected.closed).toBe(0);
  expect(rejected.unavailable).toBe(0);

  // Rejections as the clients saw them. A queue-full rejection is decided on
  // arrival, before anyone leaves: exact. A timeout can beat the abort of a
  // client that was leaving the queue (the timer fires before the socket's
  // close is read): those are rejections nobody saw.
  expect(rejected.queue_full).toBe(c.queueFull);
  expect(rejected.timeout).toBeGreaterThanOrEqual(c.queueTimeout);
  const unseenTimeouts = rejected.timeout - c.queueTimeout;

  // Clients that left while queued: each left the queue as aborted, or lost
  // the race to a timeout, or to an admission (the permit was then given
  // back at once, or the handler ran for nobody).
  expect(s.queuedLeft).toBe(c.leftQueued);
  const admittedForNobody = counters.acquired - s.started;
  expect(admittedForNobody).toBeGreaterThanOrEqual(0);
  expect(rejected.aborted + unseenTimeouts + admittedForNobody + s.startedAfterQueuedLeave).toBe(
    c.leftQueued,
  );

  // Handlers: each one started answered its client, or its client left.
  expect(s.started).toBe(
    c.ok + c.streamed + c.failed + c.leftAdmitted + c.leftStreaming + s.startedAfterQueuedLeave,
  );
  expect(s.admittedLeft).toBe(c.leftAdmitted);
  expect(s.streamLeft).toBe(c.leftStreaming);
  expect(s.errors).toBe(c.failed);
  // Koa reports a body stream cut short by its client as an error; nothing else may show up.
  for (const [code, count] of Object.entries(s.otherErrors)) {
    expect(code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    expect(count).toBeLessThanOrEqual(s.streamLeft);
  }

  // The mix really took every path.
  const paths = {
    ok: c.ok,
    streamed: c.streamed,
    failed: c.failed,
    queueFull: c.queueFull,
    queueTimeout: c.queueTimeout,
    leftUpstream: c.leftUpstream,
    leftQueued: c.leftQueued,
    leftAdmitted: c.leftAdmitted,
    leftStreaming: c.leftStreaming,
    aborted: rejected.aborted,
  };
  for (const [path, count] of Object.entries(paths)) {
    expect(count, `${path} happened`).toBeGreaterThan(0);
  }

  // The heap after forced GCs, end of warm-up against end of run.
  const baseline = min(first.heap.heapUsed);
  const end = min(last.heap.heapUsed);
  expect(
    end,
    `heap after GC grew from ${mb(baseline)} to ${mb(end)} over ${last.requests - first.requests} requests`,
  ).toBeLessThanOrEqual(baseline * 1.05);
  // And none of the sampled requests is still held by anything.
  expect(last.heap.trackedRequests).toBeGreaterThan(0);
  expect(last.heap.aliveRequests).toBe(0);
}
