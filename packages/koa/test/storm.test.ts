import { concurrencyLimit } from '@doorman/koa';
import type { Semaphore } from '@doorman/semaphore';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Call,
  type Deferred,
  deferred,
  get,
  koaVersions,
  newApp,
  type Reply,
  serve,
  until,
} from './helpers.js';

const LIMIT = 8;
const MAX_QUEUE = 20;
// Long enough that a request is never timed out between the moment the driver
// sees it queued and the moment its abort reaches the server; the driver makes
// timeouts happen on purpose ("stall") by waiting for one.
const QUEUE_TIMEOUT_MS = 250;
const REQUESTS = 500;
const SEED = 0x0d00_4a11;

/**
 * What each request is meant to do. `ok` and `throw` describe the handler;
 * `abortQueued` leaves if it finds itself queued; `abortRunning` leaves once
 * its handler runs; `stall` makes the driver wait until it times out if it
 * is queued. Rejections for a full queue come from the pressure phases.
 */
type Kind = 'ok' | 'throw' | 'abortQueued' | 'abortRunning' | 'stall';

interface Step {
  kind: Kind;
  /** How many running handlers the driver lets finish after this request (before scaling). */
  finish: number;
  /** Which running handler to finish first. */
  pick: number;
}

const steps: Step[] = fc.sample(
  fc.record({
    kind: fc.oneof(
      { arbitrary: fc.constant<Kind>('ok'), weight: 45 },
      { arbitrary: fc.constant<Kind>('throw'), weight: 15 },
      { arbitrary: fc.constant<Kind>('abortQueued'), weight: 18 },
      { arbitrary: fc.constant<Kind>('abortRunning'), weight: 15 },
      { arbitrary: fc.constant<Kind>('stall'), weight: 1 },
    ),
    finish: fc.nat({ max: 3 }),
    pick: fc.nat({ max: 1_000_000 }),
  }),
  { seed: SEED, numRuns: REQUESTS },
);

interface Entry {
  id: number;
  kind: Kind;
  call: Call;
  /** Where the request stood right after the middleware's synchronous part. */
  arrived: Deferred<'running' | 'queued' | 'rejected'>;
  gate: Deferred<void>;
  started: boolean;
  abortOnStart: boolean;
  /** The client went away (the test aborted it). */
  left: boolean;
  /** It left while the server had it queued (and its handler had not run). */
  leftWhileQueued: boolean;
  closed: Deferred<void>;
  settled: Deferred<void>;
  /** The body the stack left (a rejection names its code there). */
  body: unknown;
  /** The status the server sent, read when the response closed. */
  sentStatus: number | undefined;
}

describe.each(koaVersions)('%s: storm', (_label, KoaApp) => {
  it(`keeps every count balanced through ${REQUESTS} requests of mixed fates (seed ${SEED})`, async () => {
    const { app, errors } = newApp(KoaApp);
    const mw = concurrencyLimit({
      limit: LIMIT,
      maxQueue: MAX_QUEUE,
      queueTimeoutMs: QUEUE_TIMEOUT_MS,
      name: 'storm',
    });
    const sem = mw.limiter as Semaphore;
    const records: Entry[] = [];
    const running = new Set<number>();
    let active = 0;
    let maxActive = 0;
    let overLimit = 0;

    app.use(async (ctx, next) => {
      const r = records[Number(ctx.get('x-id'))] as Entry;
      ctx.res.once('close', () => {
        r.sentStatus = ctx.res.statusCode;
        r.closed.resolve();
      });
      const waitingBefore = sem.waiting;
      const downstream = next();
      // The middleware is synchronous up to its first await: by now the
      // request runs, waits in the queue, or is being rejected.
      r.arrived.resolve(
        r.started ? 'running' : sem.waiting > waitingBefore ? 'queued' : 'rejected',
      );
      try {
        await downstream;
      } finally {
        r.body = ctx.body;
        r.settled.resolve();
      }
    });
    app.use(mw);
    app.use(async (ctx) => {
      const r = records[Number(ctx.get('x-id'))] as Entry;
      r.started = true;
      running.add(r.id);
      active++;
      maxActive = Math.max(maxActive, active);
      if (sem.inUse > sem.limit || sem.available > sem.limit) overLimit++;
      if (r.abortOnStart) {
        r.left = true;
        r.call.abort();
      }
      try {
        await r.gate.promise;
      } finally {
        active--;
      }
      if (r.kind === 'throw') throw new Error('storm');
      ctx.body = 'ok';
    });
    const { port } = await serve(app);

    const leave = async (r: Entry) => {
      r.left = true;
      r.call.abort();
      await r.closed.promise;
    };
    // Lets a running handler finish, and waits until its permit is back: the
    // stack has settled and the response has closed.
    const finish = async (id: number) => {
      const r = records[id] as Entry;
      running.delete(id);
      r.gate.resolve();
      await r.settled.promise;
      await r.closed.promise;
    };

    for (let i = 0; i < steps.length; i++) {
      const step = steps[i] as Step;
      const r: Entry = {
        id: i,
        kind: step.kind,
        call: undefined as unknown as Call,
        arrived: deferred(),
        gate: deferred(),
        started: false,
        abortOnStart: false,
        left: false,
        leftWhileQueued: false,
        closed: deferred(),
        settled: deferred(),
        body: undefined,
        sentStatus: undefined,
      };
      records.push(r);
      r.call = get(port, '/', { 'x-id': String(i) });
      const state = await r.arrived.promise;

      if (step.kind === 'abortQueued' && state === 'queued') {
        r.leftWhileQueued = true;
        await leave(r);
      } else if (step.kind === 'abortRunning') {
        if (state === 'running') await leave(r);
        else if (state === 'queued') r.abortOnStart = true;
      } else if (step.kind === 'stall' && state === 'queued') {
        // Nobody finishes: this request (and every one queued before it) times out.
        await r.call.outcome;
      }

      // Alternate pressure (few finish: the queue fills, then sheds) and relief.
      const pressure = Math.floor(i / 50) % 2 === 1;
      const count = pressure ? (step.finish === 3 ? 1 : 0) : step.finish;
      for (let k = 0; k < count && running.size > 0; k++) {
        const ids = [...running];
        await finish(ids[(step.pick + k) % ids.length] as number);
      }
    }

    // Drain: finish every handler, including those admitted as others finish.
    while (running.size > 0 || sem.waiting > 0) {
      if (running.size === 0) {
        await until(() => running.size > 0 || sem.waiting === 0, 'a queued request starts');
      }
      for (const id of [...running]) await finish(id);
    }
    const outcomes = await Promise.all(records.map((r) => r.call.outcome));
    await Promise.all(records.map((r) => r.closed.promise));
    await sem.idle();

    // No leaked permit, nobody left in line.
    expect(sem.inUse).toBe(0);
    expect(sem.waiting).toBe(0);
    expect(sem.available).toBe(LIMIT);
    expect(running.size).toBe(0);
    expect(active).toBe(0);
    expect(overLimit).toBe(0);
    expect(maxActive).toBe(LIMIT);

    // Every request that stayed connected got a response, and it is the one the server gave.
    const seen = { ok: 0, error: 0, QUEUE_FULL: 0, QUEUE_TIMEOUT: 0 };
    records.forEach((r, i) => {
      const outcome = outcomes[i] as Reply | 'aborted';
      if (r.left) {
        expect(outcome, `request ${i} was aborted`).toBe('aborted');
        return;
      }
      expect(outcome, `request ${i} stayed connected`).not.toBe('aborted');
      const reply = outcome as Reply;
      expect(reply.status, `request ${i}`).toBe(r.sentStatus);
      if (r.started) {
        expect(reply.status, `request ${i} ran`).toBe(r.kind === 'throw' ? 500 : 200);
        if (reply.status === 200) seen.ok++;
        else seen.error++;
      } else {
        expect(reply.status, `request ${i} was rejected`).toBe(503);
        expect(reply.headers['retry-after']).toBe('1');
        const code = /QUEUE_FULL|QUEUE_TIMEOUT/.exec(reply.body)?.[0] as keyof typeof seen;
        expect(code, `request ${i} names its reason`).toBeDefined();
        seen[code]++;
      }
    });

    // A request that left while queued never ran.
    const leftWhileQueued = records.filter((r) => r.leftWhileQueued);
    expect(leftWhileQueued.every((r) => !r.started)).toBe(true);
    // Rejections the server made for clients that had already left (a timer
    // beating the abort on an overloaded machine) are not seen by anyone.
    const unseen = (code: string) =>
      records.filter((r) => r.left && !r.started && String(r.body).includes(code)).length;

    // The counters balance with what the clients saw.
    const counters = sem.counters;
    const started = records.filter((r) => r.started).length;
    expect(counters.acquired).toBe(counters.released);
    expect(counters.acquired).toBe(started);
    expect(counters.rejected.queue_full).toBe(seen.QUEUE_FULL);
    expect(counters.rejected.timeout).toBe(seen.QUEUE_TIMEOUT + unseen('QUEUE_TIMEOUT'));
    expect(counters.rejected.aborted).toBe(leftWhileQueued.length - unseen('QUEUE_TIMEOUT'));
    expect(counters.rejected.closed).toBe(0);
    expect(
      counters.acquired +
        counters.rejected.queue_full +
        counters.rejected.timeout +
        counters.rejected.aborted,
    ).toBe(REQUESTS);
    const thrown = records.filter((r) => r.started && r.kind === 'throw').length;
    expect(errors.filter((e) => (e as Error).message === 'storm')).toHaveLength(thrown);

    // The mix really covered every path.
    const leftRunning = records.filter((r) => r.left && r.started).length;
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.error).toBeGreaterThan(0);
    expect(seen.QUEUE_FULL).toBeGreaterThan(0);
    expect(seen.QUEUE_TIMEOUT).toBeGreaterThan(0);
    expect(leftWhileQueued.length).toBeGreaterThan(0);
    expect(leftRunning).toBeGreaterThan(0);
  });
});
