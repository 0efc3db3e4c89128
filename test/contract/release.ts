import { Semaphore } from '@doorman/semaphore';
import { expect, it } from 'vitest';
import { RecordingLimiter, waitUntil } from '../kit/index.js';
import type { Harness } from './harness.js';
import { send } from './requests.js';
import type { Built, Script } from './subject.js';

/** After the one request of a test: its permit is back and the next request is admitted. */
async function freedAndReusable(b: Built): Promise<void> {
  await waitUntil(() => b.limiter.inUse === 0, 'the permit is back');
  const next = await send(b, '/next', 'next').reply;
  expect([next.status, next.body]).toEqual([200, 'ok']);
}

const next: Script = { kind: 'respond' };

/** Every way a request's work can end gives its permit back, exactly once. */
export function release(t: Harness): void {
  it('holds the permit while the handler works and releases it on success', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1 },
      { routes: { '/x': { kind: 'hold', stage }, '/next': next } },
    );
    const held = send(b, '/x', 'a');
    await stage.reached(1);
    expect(b.limiter.inUse).toBe(1);
    stage.openNext();
    expect(await held.reply).toMatchObject({ status: 200, body: 'ok' });
    await freedAndReusable(b);
    expect(b.limiter.counters).toMatchObject({ acquired: 2, released: 2 });
  });

  it('releases the permit when the handler throws', async () => {
    const b = await t.build({ limit: 1 }, { routes: { '/x': { kind: 'throw' }, '/next': next } });
    expect((await send(b, '/x', 'a').reply).status).toBe(500);
    await freedAndReusable(b);
  });

  it('releases the permit when the handler fails asynchronously (next(err) or a rejection)', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1 },
      { routes: { '/x': { kind: 'fail', stage }, '/next': next } },
    );
    const failing = send(b, '/x', 'a');
    await stage.reached(1);
    expect(b.limiter.inUse).toBe(1);
    stage.openNext();
    expect((await failing.reply).status).toBe(500);
    await freedAndReusable(b);
  });

  it('releases the permit when the handler answers 500', async () => {
    const b = await t.build(
      { limit: 1 },
      { routes: { '/x': { kind: 'respond', status: 500, body: 'broken' }, '/next': next } },
    );
    expect(await send(b, '/x', 'a').reply).toMatchObject({ status: 500, body: 'broken' });
    await freedAndReusable(b);
  });

  it('holds the permit while a streamed body is written, and releases it when the stream ends', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1 },
      { routes: { '/x': { kind: 'stream', stage }, '/next': next } },
    );
    const streaming = send(b, '/x', 'a');
    await streaming.whenChunks(1);
    await stage.reached(1);
    expect(streaming.chunks.join('')).toBe('first');
    expect(b.limiter.inUse).toBe(1);
    stage.openNext();
    expect(await streaming.reply).toMatchObject({ status: 200, body: 'firstlast' });
    await freedAndReusable(b);
  });

  it('releases the permit when a streamed body fails after the headers, the client still there', async () => {
    const stage = t.stage();
    const limiter = new RecordingLimiter(new Semaphore({ limit: 1 }));
    const b = await t.build(
      { limiter },
      { routes: { '/x': { kind: 'stream', stage, fails: true }, '/next': next } },
    );
    const streaming = send(b, '/x', 'a');
    await streaming.whenChunks(1);
    await stage.reached(1);
    expect(limiter.inUse).toBe(1);
    stage.openNext();
    await waitUntil(() => limiter.inUse === 0, 'the permit comes back with the failed body', {
      seen: () => ({ inUse: limiter.inUse, closed: [...b.closed] }),
    });
    // Where the adapter sees the handler, it knows the work failed.
    if (t.subject.seesBodyFailure) expect(limiter.outcomes()).toEqual(['dropped']);
    await freedAndReusable(b);
  });

  it('takes a client that leaves while queued out of the line: its handler never runs (aborted)', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1 },
      { routes: { '/x': { kind: 'hold', stage }, '/next': next } },
    );
    const held = send(b, '/x', 'held');
    await stage.reached(1);
    const leaver = send(b, '/x', 'leaver');
    await waitUntil(() => b.limiter.waiting === 1, 'the second request waits');
    leaver.abort();
    await waitUntil(() => b.limiter.waiting === 0, 'the leaver leaves the line');
    expect(b.limiter.counters.rejected.aborted).toBe(1);
    stage.openAll();
    expect((await held.reply).status).toBe(200);
    await freedAndReusable(b);
    expect(stage.labels).toEqual(['held']);
    expect(b.limiter.counters.acquired).toBe(2);
  });

  it('gives the permit back when an admitted client leaves (when the work is over)', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1 },
      { routes: { '/x': { kind: 'hold', stage }, '/next': next } },
    );
    const leaver = send(b, '/x', 'leaver');
    await stage.reached(1);
    leaver.abort();
    await waitUntil(() => b.closed.has('leaver'), 'the server sees the client go');
    if (t.subject.seesHandler) {
      // The handler is still working for nobody: its slot stays taken until it settles.
      expect(b.limiter.inUse).toBe(1);
      stage.openNext();
    } else {
      // Nothing tells the adapter the handler is done: the response's close ends the hold.
      await waitUntil(() => b.limiter.inUse === 0, 'the permit comes back with the close');
    }
    await freedAndReusable(b);
    stage.openAll();
  });

  // Not on the guard: it is the server's listener, so nothing runs before it.
  if (!t.subject.hasUpstream) return;
  it('never admits a request whose client left before the limit was reached', async () => {
    const stage = t.stage();
    const upstream = t.stage();
    const b = await t.build(
      { limit: 1 },
      { routes: { '/x': { kind: 'hold', stage }, '/next': next }, upstream },
    );
    const leaver = send(b, '/x', 'leaver', { 'x-upstream': 'hold' });
    await upstream.reached(1);
    leaver.abort();
    await waitUntil(() => b.closed.has('leaver'), 'the server sees the client go');
    upstream.openNext();
    await freedAndReusable(b);
    expect(stage.labels).toEqual([]);
    const { acquired, rejected } = b.limiter.counters;
    expect({ acquired, ...rejected }).toEqual({
      acquired: 1,
      queue_full: 0,
      timeout: 0,
      aborted: 0,
      closed: 0,
      unavailable: 0,
    });
  });
}
