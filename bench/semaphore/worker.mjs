// One measurement in a fresh process: one subject (library), one scenario, one
// size. Run by run.mjs as
//   node --expose-gc --max-old-space-size=8192 worker.mjs <subject> <scenario> <n> <budgetMs>
// and prints one JSON line on stdout.
import { PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { subjects } from './subjects.mjs';

const [subjectId, scenario, nText, budgetText] = process.argv.slice(2);
const n = Number(nText);
const budgetMs = Number(budgetText);
const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('run with --expose-gc');

const load = subjects[subjectId];
if (load === undefined) throw new Error(`unknown subject ${subjectId}`);
const subject = await load();

// Before a timed part: a scavenge, so the young generation starts empty. Not a
// full gc: V8 keeps the maps (hidden classes) of objects that no longer exist
// for a couple of major gcs only, and optimised code that checks for a map that
// has died is thrown away. Two forced major gcs before every repetition would
// make any library whose objects are all gone between repetitions (doorman's
// waiters and permits; object literals are safe) start each one deoptimised,
// which a server doing steady work never sees.
const youngGc = () => gc({ type: 'minor' });
const fullGc = () => {
  gc();
  gc();
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Time spent in garbage collection, from the VM's own gc entries.
const gcSpans = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcSpans.push([e.startTime, e.startTime + e.duration]);
}).observe({ entryTypes: ['gc'] });
/** Milliseconds of gc inside [from, to]; entries arrive asynchronously, so call after a tick. */
const gcMsBetween = (from, to) => {
  let ms = 0;
  for (const [a, b] of gcSpans) if (b > from && a < to) ms += Math.min(b, to) - Math.max(a, from);
  return ms;
};

// Every timed span is read on two clocks: wall time (performance.now) and the
// process's CPU time (user + system, all threads, so parallel gc work counts).
// On a quiet machine they agree closely; on a busy one the wall clock also
// counts the time other processes had the CPU, and the CPU clock does not.
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const stamp = () => ({ w: performance.now(), c: cpuMs() });
const nsPer = (a, b, count) => ({ w: ((b.w - a.w) * 1e6) / count, c: ((b.c - a.c) * 1e6) / count });
const pick = (xs, k) => xs.map((x) => x[k]);

// (a) Repeats n ops until 5 repetitions or about 0.5 s, whichever comes first.
async function uncontended() {
  const ops = subject.uncontended();
  await ops(Math.max(1000, Math.floor(n / 10))); // warm-up: let the JIT settle
  const samples = [];
  let spent = 0;
  while (samples.length < 5 && (samples.length === 0 || spent < 500)) {
    await tick();
    youngGc();
    const a = stamp();
    await ops(n);
    const b = stamp();
    spent += b.w - a.w;
    samples.push(nsPer(a, b, n));
  }
  return {
    nsPerOp: median(pick(samples, 'w')),
    cpuNsPerOp: median(pick(samples, 'c')),
    reps: pick(samples, 'w'),
  };
}

// (b) 5 warm-up repetitions, then the median of 15.
async function handoff() {
  const tasks = subject.handoff();
  const WARM = 5;
  const REPS = 15;
  const samples = [];
  for (let rep = 0; rep < WARM + REPS; rep++) {
    await tick();
    youngGc();
    const a = stamp();
    const done = await tasks(n);
    const b = stamp();
    if (done !== n) throw new Error(`handoff: ${done} of ${n} tasks ran`);
    if (rep >= WARM) samples.push(nsPer(a, b, n));
  }
  return {
    nsPerTask: median(pick(samples, 'w')),
    cpuNsPerTask: median(pick(samples, 'c')),
    reps: pick(samples, 'w'),
  };
}

/** Queues `size` waiters behind a held slot and drains them: the warm-up for scaling and memory. */
async function exercise(q, size) {
  await q.hold();
  const ps = new Array(size);
  q.enqueue(ps, size, Number.POSITIVE_INFINITY);
  await tick();
  const admitted = await q.drain(ps, size, Number.POSITIVE_INFINITY);
  if (admitted !== size) throw new Error(`warm-up: ${admitted} of ${size} admitted`);
}

// (c) Repetitions: up to 7 at 10k, 3 at 100k, 1 at 1M, on the same limiter;
// no new one once 1.5 s have gone into the timed parts.
async function scaling() {
  const q = subject.queue();
  await exercise(q, Math.min(n, 10_000));
  await exercise(q, Math.min(n, 10_000));
  const reps = n <= 10_000 ? 7 : n <= 100_000 ? 3 : 1;
  let spent = 0;
  const enq = [];
  const drn = [];
  const enqGc = [];
  const drnGc = [];
  for (let rep = 0; rep < reps && (rep === 0 || spent < 1500); rep++) {
    await q.hold();
    let ps = new Array(n);
    await tick();
    youngGc();
    const t0 = stamp();
    const queued = q.enqueue(ps, n, t0.w + budgetMs);
    const t1 = stamp();
    if (queued < n) return { timedOut: 'enqueue', budgetMs, reached: queued };
    await tick(); // let anything the library deferred settle before the drain is timed
    const t2 = stamp();
    const admitted = await q.drain(ps, n, t2.w + budgetMs);
    const t3 = stamp();
    if (admitted < n) return { timedOut: 'drain', budgetMs, reached: admitted };
    ps = undefined;
    spent += t3.w - t0.w;
    await tick();
    enq.push(nsPer(t0, t1, n));
    drn.push(nsPer(t2, t3, n));
    enqGc.push((gcMsBetween(t0.w, t1.w) * 1e6) / n);
    drnGc.push((gcMsBetween(t2.w, t3.w) * 1e6) / n);
  }
  return {
    enqueueNs: median(pick(enq, 'w')),
    drainNs: median(pick(drn, 'w')),
    cpuEnqueueNs: median(pick(enq, 'c')),
    cpuDrainNs: median(pick(drn, 'c')),
    enqueueGcNs: median(enqGc),
    drainGcNs: median(drnGc),
    reps: { enqueue: pick(enq, 'w'), drain: pick(drn, 'w') },
  };
}

async function memory() {
  const q = subject.queue();
  await exercise(q, Math.min(n, 10_000));
  await q.hold();
  const ps = new Array(n).fill(undefined); // the caller's array is not the library's cost
  await tick();
  fullGc();
  const before = process.memoryUsage().heapUsed;
  const queued = q.enqueue(ps, n, Number.POSITIVE_INFINITY);
  fullGc();
  const after = process.memoryUsage().heapUsed;
  if (queued !== n) throw new Error(`memory: ${queued} of ${n} queued`);
  // No drain: async-mutex would take seconds (Array#shift per waiter) for nothing.
  return { bytesPerWaiter: (after - before) / n };
}

const scenarios = { uncontended, handoff, scaling, memory };
const run = scenarios[scenario];
if (run === undefined) throw new Error(`unknown scenario ${scenario}`);
const needs = scenario === 'memory' || scenario === 'scaling' ? 'queue' : scenario;
if (subject[needs] === undefined) {
  throw new Error(`${subjectId} has no ${scenario} scenario`);
}
const result = await run();
process.stdout.write(`${JSON.stringify({ subject: subjectId, scenario, n, ...result })}\n`);
