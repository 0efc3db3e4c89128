import { expect, it } from 'vitest';
import type { Stage } from '../kit/index.js';
import { type Call, prng, RawConnection, rawGet, turn, waitUntil, weighted } from '../kit/index.js';
import type { Harness } from './harness.js';
import { send } from './requests.js';

const REQUESTS = 300;
const IN_FLIGHT = 24;
const LIMIT = 4;
const SEED = Number(process.env['STORM_SEED'] ?? 9);

const fates = {
  ok: 20,
  hold: 20,
  status500: 6,
  throw: 5,
  fail: 6,
  stream: 8,
  leaveSoon: 14,
  leaveUpstream: 5,
  pipelined: 10,
} as const;
type Fate = keyof typeof fates;

/**
 * A seeded storm: requests of every fate at once, held handlers let go one
 * event-loop turn at a time in a seeded order, clients leaving at random
 * stages, pipelined connections dying with requests running and due.
 */
export function storm(t: Harness): void {
  it(`a seeded storm of ${REQUESTS} requests of every fate leaves nothing held (seed ${SEED})`, async () => {
    const random = prng(SEED);
    const stage = t.stage();
    const upstream = t.stage();
    // Streams wait on a stage of their own: a body whose client left is
    // destroyed, leaving its generator parked there, which is no running work.
    const streams = t.stage();
    const b = await t.build(
      { limit: LIMIT, maxQueue: 10, queueTimeoutMs: 10_000 },
      {
        routes: {
          '/ok': { kind: 'respond' },
          '/hold': { kind: 'hold', stage },
          '/500': { kind: 'respond', status: 500 },
          '/throw': { kind: 'throw' },
          '/fail': { kind: 'fail', stage },
          '/stream': { kind: 'stream', stage: streams },
        },
        upstream: t.subject.hasUpstream ? upstream : undefined,
      },
    );
    // Lets held handlers (and upstream steps) go, a few at a time, in a seeded rhythm.
    let pumping = true;
    const pump = async () => {
      while (pumping) {
        for (const s of [stage, streams, upstream] as Stage[])
          if (s.held > 0 && random() < 0.4) s.openNext();
        await turn();
      }
    };
    const pumped = pump();

    const seen = { answered: 0, aborted: 0, statuses: new Map<number, number>() };
    const wrong: string[] = [];
    const run = async (i: number): Promise<void> => {
      let fate: Fate = weighted(random, fates);
      if (fate === 'leaveUpstream' && !t.subject.hasUpstream) fate = 'leaveSoon';
      const id = `s${i}`;
      if (fate === 'pipelined') {
        const conn = await RawConnection.open(b.port);
        const paths = ['/hold', '/ok', '/hold', '/stream'].slice(0, 2 + Math.floor(random() * 3));
        conn.pipeline(...paths.map((path, j) => rawGet(path, { 'x-id': `${id}.${j}` })));
        const wait = Math.floor(random() * 8);
        for (let k = 0; k < wait; k++) await turn();
        conn.destroy();
        seen.aborted++;
        return;
      }
      const path = {
        ok: '/ok',
        hold: '/hold',
        status500: '/500',
        throw: '/throw',
        fail: '/fail',
        stream: '/stream',
        leaveSoon: '/hold',
        leaveUpstream: '/hold',
      }[fate];
      const headers: Record<string, string> =
        fate === 'leaveUpstream' ? { 'x-upstream': 'hold' } : {};
      const c: Call = send(b, path, id, headers);
      if (fate === 'leaveSoon' || fate === 'leaveUpstream') {
        const wait = Math.floor(random() * 8);
        for (let k = 0; k < wait; k++) await turn();
        c.abort();
      }
      const outcome = await c.outcome.catch((error: Error) => `error ${error.message}`);
      if (outcome === 'aborted') {
        seen.aborted++;
        return;
      }
      if (typeof outcome === 'string') {
        wrong.push(`${id} ${fate}: ${outcome}`);
        return;
      }
      seen.answered++;
      seen.statuses.set(outcome.status, (seen.statuses.get(outcome.status) ?? 0) + 1);
      const expected =
        outcome.status === 503
          ? /QUEUE_FULL/.test(outcome.body) && outcome.headers['retry-after'] !== undefined
          : fate === 'ok' || fate === 'hold' || fate === 'leaveSoon' || fate === 'leaveUpstream'
            ? outcome.status === 200 && outcome.body === 'ok'
            : fate === 'stream'
              ? outcome.status === 200 && outcome.body === 'firstlast'
              : outcome.status === 500;
      if (!expected) wrong.push(`${id} ${fate}: ${outcome.status} ${outcome.body.slice(0, 60)}`);
    };

    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) await run(next++);
    };
    try {
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      // Whatever is still held (handlers for clients long gone) is let go.
      await waitUntil(() => b.limiter.waiting === 0, 'the line is empty', {
        seen: () => ({ waiting: b.limiter.waiting, held: stage.held }),
      });
    } finally {
      pumping = false;
      await pumped;
    }
    stage.openAll();
    streams.openAll();
    upstream.openAll();
    await waitUntil(() => b.limiter.inUse === 0 && b.limiter.waiting === 0, 'the storm is over', {
      seen: () => ({ inUse: b.limiter.inUse, waiting: b.limiter.waiting, ...b.limiter.counters }),
    });

    expect(wrong).toEqual([]);
    expect(seen.answered + seen.aborted).toBe(REQUESTS);
    expect(seen.statuses.get(200)).toBeGreaterThan(0);
    expect(seen.statuses.get(500)).toBeGreaterThan(0);
    const { acquired, released, rejected } = b.limiter.counters;
    expect(released).toBe(acquired);
    expect(stage.entered + streams.entered).toBeLessThanOrEqual(acquired);
    expect(rejected.timeout + rejected.closed + rejected.unavailable).toBe(0);
    if (t.subject.seesHandler) expect(stage.maxActive).toBeLessThanOrEqual(LIMIT);
  });
}
