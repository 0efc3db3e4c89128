import { Semaphore } from '@doorman/semaphore';
import { expect, it } from 'vitest';
import { waitUntil } from '../kit/index.js';
import type { Harness } from './harness.js';
import { rejected, rejection, send } from './requests.js';

/** Admission, queueing and the three rejections. */
export function admission(t: Harness): void {
  it('admits exactly `limit` requests at once and queues the next', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 2, maxQueue: 5 },
      { routes: { '/x': { kind: 'hold', stage } } },
    );
    const calls = ['a', 'b', 'c'].map((id) => send(b, '/x', id));
    await stage.reached(2);
    await waitUntil(() => b.limiter.waiting === 1, 'the third request waits');
    expect([b.limiter.inUse, stage.entered]).toEqual([2, 2]);
    stage.openNext();
    await stage.reached(3);
    expect(stage.labels.slice(0, 2).sort()).toEqual(['a', 'b']);
    expect(stage.labels[2]).toBe('c');
    stage.openAll();
    for (const reply of await Promise.all(calls.map((c) => c.reply))) {
      expect([reply.status, reply.body]).toEqual([200, 'ok']);
    }
  });

  it('turns a request away when the line is full: 503, Retry-After, QUEUE_FULL, no handler', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1, maxQueue: 1 },
      { routes: { '/x': { kind: 'hold', stage } } },
    );
    const held = send(b, '/x', 'held');
    await stage.reached(1);
    const queued = send(b, '/x', 'queued');
    await waitUntil(() => b.limiter.waiting === 1, 'one request waits');
    const reply = await send(b, '/x', 'turned away').reply;
    expect(rejection(reply)).toEqual(rejected('QUEUE_FULL'));
    expect(b.limiter.counters.rejected.queue_full).toBe(1);
    stage.openAll();
    expect((await held.reply).status).toBe(200);
    expect((await queued.reply).status).toBe(200);
    expect(stage.labels).toEqual(['held', 'queued']);
  });

  it('turns a request away when its wait times out: 503, Retry-After, QUEUE_TIMEOUT, no handler', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1, maxQueue: 1, queueTimeoutMs: 5 },
      { routes: { '/x': { kind: 'hold', stage } } },
    );
    const held = send(b, '/x', 'held');
    await stage.reached(1);
    const reply = await send(b, '/x', 'timed out').reply;
    expect(rejection(reply)).toEqual(rejected('QUEUE_TIMEOUT'));
    expect(b.limiter.counters.rejected.timeout).toBe(1);
    stage.openAll();
    expect((await held.reply).status).toBe(200);
    expect(stage.labels).toEqual(['held']);
  });

  it('turns requests away once the limiter is closed: the line and later arrivals hear CLOSED', async () => {
    const stage = t.stage();
    const limiter = new Semaphore({ limit: 1 });
    const b = await t.build({ limiter }, { routes: { '/x': { kind: 'hold', stage } } });
    const held = send(b, '/x', 'held');
    await stage.reached(1);
    const queued = send(b, '/x', 'queued');
    await waitUntil(() => limiter.waiting === 1, 'one request waits');
    await limiter.close();
    expect(rejection(await queued.reply)).toEqual(rejected('CLOSED'));
    expect(rejection(await send(b, '/x', 'later').reply)).toEqual(rejected('CLOSED'));
    stage.openAll();
    expect((await held.reply).status).toBe(200);
    expect(stage.labels).toEqual(['held']);
    expect(limiter.counters.rejected.closed).toBe(2);
  });

  it('never runs the handler of a rejected request, whatever the reason', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1, maxQueue: 0 },
      { routes: { '/x': { kind: 'hold', stage }, '/free': { kind: 'respond' } } },
    );
    const held = send(b, '/x', 'held');
    await stage.reached(1);
    const replies = await Promise.all(['r1', 'r2', 'r3'].map((id) => send(b, '/x', id).reply));
    for (const reply of replies) expect(rejection(reply)).toEqual(rejected('QUEUE_FULL'));
    // The other route is limited by the same (app-wide) middleware: also refused, not run.
    expect(rejection(await send(b, '/free', 'r4').reply)).toEqual(rejected('QUEUE_FULL'));
    stage.openAll();
    await held.reply;
    expect(stage.labels).toEqual(['held']);
    expect(b.limiter.counters.acquired).toBe(1);
  });
}
