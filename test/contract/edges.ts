import { expect, it } from 'vitest';
import { type Call, RawConnection, rawGet, waitUntil } from '../kit/index.js';
import type { Harness } from './harness.js';
import { send } from './requests.js';

/** The edges of issue 9: pipelined connections that die, a middleware met twice, clients that give up. */
export function edges(t: Harness): void {
  it('pipelining: connections that die with requests running and due give every permit back', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 4, maxQueue: 10, queueTimeoutMs: 500 },
      { routes: { '/slow': { kind: 'hold', stage }, '/fast': { kind: 'respond' } } },
    );
    for (const round of [1, 2]) {
      const conn = await RawConnection.open(b.port);
      conn.pipeline(
        rawGet('/slow', { 'x-id': `slow${round}` }),
        rawGet('/fast', { 'x-id': `fast${round}a` }),
        rawGet('/fast', { 'x-id': `fast${round}b` }),
      );
      await stage.reached(round);
      await waitUntil(() => b.limiter.counters.acquired === 3 * round, 'all three are admitted', {
        seen: () => b.limiter.counters,
      });
      conn.destroy();
      await waitUntil(() => b.closed.has(`slow${round}`), 'the server sees the socket die');
    }
    // The slow handlers may still be running (where the adapter sees them): the rest is free.
    const reply = await send(b, '/fast', 'after').reply;
    expect([reply.status, reply.body]).toEqual([200, 'ok']);
    stage.openAll();
    await waitUntil(() => b.limiter.inUse === 0, 'every permit is back', {
      seen: () => ({ inUse: b.limiter.inUse, ...b.limiter.counters }),
    });
    expect(b.limiter.counters).toMatchObject({ acquired: 7, released: 7 });
  });

  it('pipelining: a request queued when its connection dies leaves the line and never runs', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1, maxQueue: 10, queueTimeoutMs: 500 },
      { routes: { '/slow': { kind: 'hold', stage }, '/fast': { kind: 'respond' } } },
    );
    const conn = await RawConnection.open(b.port);
    conn.pipeline(rawGet('/slow', { 'x-id': 'running' }), rawGet('/slow', { 'x-id': 'due' }));
    await stage.reached(1);
    await waitUntil(() => b.limiter.waiting === 1, 'the pipelined request waits');
    conn.destroy();
    await waitUntil(() => b.limiter.waiting === 0, 'the due request leaves the line', {
      seen: () => b.limiter.counters,
    });
    expect(b.limiter.counters.rejected.aborted).toBe(1);
    stage.openAll();
    await waitUntil(() => b.limiter.inUse === 0, 'the running request gives its permit back');
    const reply = await send(b, '/fast', 'after').reply;
    expect([reply.status, reply.body]).toEqual([200, 'ok']);
    expect(stage.labels).toEqual(['running']);
    expect(b.limiter.counters).toMatchObject({ acquired: 2, released: 2 });
  });

  it('half-open: a client that ends its side while queued leaves the line, its handler never runs', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1, maxQueue: 10, queueTimeoutMs: 500 },
      { routes: { '/slow': { kind: 'hold', stage }, '/fast': { kind: 'respond' } } },
    );
    const held = send(b, '/slow', 'held');
    await stage.reached(1);
    const conn = await RawConnection.open(b.port);
    conn.pipeline(rawGet('/slow', { 'x-id': 'half-open' }));
    await waitUntil(() => b.limiter.waiting === 1, 'the half-open client waits');
    // Node's server (httpAllowHalfOpen off) aborts a request whose client ended its side unanswered.
    conn.end();
    await waitUntil(() => b.limiter.waiting === 0, 'the half-open client leaves the line', {
      seen: () => b.limiter.counters,
    });
    expect(b.limiter.counters.rejected.aborted).toBe(1);
    stage.openAll();
    expect((await held.reply).status).toBe(200);
    await waitUntil(() => conn.closed, 'the server hangs up the half-open connection');
    expect(stage.labels).toEqual(['held']);
  });

  it('met twice: the same middleware on the way twice admits and releases each request once', async () => {
    const b = await t.build({ limit: 3 }, { routes: { '/x': { kind: 'respond' } }, twice: true });
    for (const round of [1, 2, 3]) {
      const reply = await send(b, '/x', `r${round}`).reply;
      expect([reply.status, reply.body]).toEqual([200, 'ok']);
      await waitUntil(() => b.limiter.inUse === 0, `inUse is back to 0 after request ${round}`, {
        seen: () => ({ inUse: b.limiter.inUse, ...b.limiter.counters }),
      });
      expect(b.limiter.counters).toMatchObject({ acquired: round, released: round });
    }
  });

  /** Limit 2, ten clients whose handlers take long; the admitted ones are the first two to enter. */
  async function tenClients() {
    const stage = t.stage();
    const b = await t.build(
      { limit: 2, maxQueue: 20 },
      { routes: { '/x': { kind: 'hold', stage } } },
    );
    const calls = new Map<string, Call>();
    for (let i = 0; i < 10; i++) calls.set(`c${i}`, send(b, '/x', `c${i}`));
    await stage.reached(2);
    await waitUntil(() => b.limiter.waiting === 8, 'eight wait');
    return { stage, b, calls };
  }

  if (t.subject.seesHandler) {
    it('clients that give up: at most `limit` handlers run at once (the handler is seen)', async () => {
      const { stage, b, calls } = await tenClients();
      // Those inside give up first (their handlers work on), then the line.
      const admitted = [...stage.labels];
      const queued = [...calls.keys()].filter((id) => !admitted.includes(id));
      for (const id of [...admitted, ...queued]) {
        calls.get(id)?.abort();
        await waitUntil(() => b.closed.has(id), `the server sees ${id} go`);
      }
      await waitUntil(() => b.limiter.waiting === 0, 'the line is empty');
      expect({
        entered: stage.entered,
        maxActive: stage.maxActive,
        inUse: b.limiter.inUse,
      }).toEqual({
        entered: 2,
        maxActive: 2,
        inUse: 2,
      });
      expect(b.limiter.counters.rejected.aborted).toBe(8);
      stage.openAll();
    });
  } else {
    it('clients that give up: the slot frees when the response closes, though its handler runs on', async () => {
      const { stage, b, calls } = await tenClients();
      // Nothing tells this adapter that a handler is done: the hold ends with
      // the response. Each admitted client that gives up lets the next one in.
      for (let entered = 2; calls.size > 0; ) {
        const id = stage.labels.find((label) => calls.has(label)) as string;
        calls.get(id)?.abort();
        calls.delete(id);
        await waitUntil(() => b.closed.has(id), `the server sees ${id} go`);
        if (entered < 10) await stage.reached(++entered);
      }
      await waitUntil(() => b.limiter.inUse === 0, 'every slot is free');
      expect({ entered: stage.entered, active: stage.active, waiting: b.limiter.waiting }).toEqual({
        entered: 10,
        active: 10,
        waiting: 0,
      });
      expect(b.limiter.counters.rejected.aborted).toBe(0);
      stage.openAll();
    });
  }
}
