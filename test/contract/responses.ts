import { Semaphore } from '@doorman/semaphore';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RecordingLimiter, turns, waitUntil } from '../kit/index.js';
import type { Harness } from './harness.js';
import { rejected, rejection, send } from './requests.js';
import type { Built, ContractOptions } from './subject.js';

/** One request held, so the next one (with `maxQueue: 0`) is refused at once. */
async function full(t: Harness, options: ContractOptions): Promise<Built> {
  const stage = t.stage();
  const b = await t.build(
    { limit: 1, maxQueue: 0, ...options },
    {
      routes: { '/x': { kind: 'hold', stage } },
    },
  );
  void send(b, '/x', 'held').outcome;
  await stage.reached(1);
  return b;
}

/** What the rejection responses say, and how each release tells how the work ended. */
export function responses(t: Harness): void {
  let unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => {
    unhandled.push(reason);
  };
  beforeEach(() => {
    unhandled = [];
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('hands a rejection of an async onRejected to the framework error path, never unhandled', async () => {
    const failure = new Error('onRejected failed');
    const b = await full(t, {
      onRejected: async () => {
        throw failure;
      },
    });
    const refused = send(b, '/x', 'refused');
    await waitUntil(() => b.closed.has('refused'), 'the refused request is answered');
    expect((await refused.reply).status).toBe(500);
    await turns(20);
    expect(unhandled).toEqual([]);
    if (t.subject.name.includes('guard')) expect(b.errors).toEqual([]);
    else expect(b.errors).toContain(failure);
  });

  it("tells each release how the work ended: 'success', 'dropped' (5xx, failure), 'ignored' (client gone)", async () => {
    const stage = t.stage();
    const limiter = new RecordingLimiter(new Semaphore({ limit: 1 }));
    const b = await t.build(
      { limiter },
      {
        routes: {
          '/ok': { kind: 'respond' },
          '/created': { kind: 'respond', status: 201 },
          '/500': { kind: 'respond', status: 500 },
          '/503': { kind: 'respond', status: 503 },
          '/throw': { kind: 'throw' },
          '/fail': { kind: 'fail' },
          '/hold': { kind: 'hold', stage },
        },
      },
    );
    for (const path of ['/ok', '/created', '/500', '/503', '/throw', '/fail']) {
      await send(b, path, path).reply;
      await waitUntil(() => limiter.inUse === 0, `${path} gives its permit back`);
    }
    const leaver = send(b, '/hold', 'leaver');
    await stage.reached(1);
    leaver.abort();
    await waitUntil(() => b.closed.has('leaver'), 'the server sees the client go');
    stage.openAll();
    await waitUntil(() => limiter.inUse === 0, 'the leaver gives its permit back');
    expect(limiter.outcomes()).toEqual([
      'success',
      'success',
      'dropped',
      'dropped',
      'dropped',
      'dropped',
      'ignored',
    ]);
  });

  it('writes a sane Retry-After for a huge retryAfter (an integer of at most 10 digits)', async () => {
    const b = await full(t, { retryAfter: 1e21 });
    const reply = await send(b, '/x', 'refused').reply;
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toMatch(/^\d{1,10}$/);
  });

  it('takes Retry-After from a retryAfter function of the error', async () => {
    const b = await full(t, { retryAfter: (error) => (error.code === 'QUEUE_FULL' ? 7 : 30) });
    expect(rejection(await send(b, '/x', 'refused').reply)).toEqual(
      rejected('QUEUE_FULL', 503, '7'),
    );
  });

  it('refuses with the statusCode given (429)', async () => {
    const b = await full(t, { statusCode: 429 });
    expect(rejection(await send(b, '/x', 'refused').reply)).toEqual(rejected('QUEUE_FULL', 429));
  });

  // Where a step before the limit can start the response (Express).
  if (!t.subject.upstreamStartsResponse) return;
  it('closes a response already started upstream when the limit refuses it', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1, maxQueue: 0 },
      { routes: { '/x': { kind: 'hold', stage } }, upstreamStarts: true },
    );
    void send(b, '/x', 'held').outcome;
    await stage.reached(1);
    const refused = send(b, '/x', 'refused', { 'x-upstream': 'start' });
    await waitUntil(() => b.closed.has('refused'), 'the refused response is closed');
    // The client sees its response end (or its connection close), not hang.
    const outcome = await refused.reply.then(
      (reply) => ({ status: reply.status, body: reply.body }),
      () => 'connection closed',
    );
    expect([{ status: 200, body: 'started ' }, 'connection closed']).toContainEqual(outcome);
    expect(stage.labels).toEqual(['held']);
  });
}
