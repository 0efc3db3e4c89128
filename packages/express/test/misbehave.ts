// The shared check of the request-time misbehaviour tests.
import {
  type ConcurrencyLimitOptions,
  concurrencyLimit,
  type KeyedSemaphore,
} from '@doorman/express';
import type { Request } from 'express';
import { expect } from 'vitest';
import { type ExpressFactory, errorRecorder, get, open, Room, until } from './helpers.js';

type Option = 'key' | 'weight' | 'priority' | 'skip';

/** A garbage result, or a function that throws. */
export type Misbehaviour = { returns: unknown } | { throws: Error };

export interface MisbehaviourCase {
  option: Option;
  what: string;
  misbehaviour: Misbehaviour;
  /** With a `key` too, so the key map is checked as well. */
  keyed?: boolean;
}

/** Only requests sent with `x-bad: 1` misbehave; the others behave. */
function optionsFor({ option, misbehaviour, keyed }: MisbehaviourCase): ConcurrencyLimitOptions {
  const bad = (req: Request) => req.get('x-bad') === '1';
  const act = (good: unknown) => (req: Request) => {
    if (!bad(req)) return good;
    if ('throws' in misbehaviour) throw misbehaviour.throws;
    return misbehaviour.returns;
  };
  const options: Record<string, unknown> = { limit: 1 };
  if (option === 'key') options['key'] = act('tenant');
  else if (keyed) options['key'] = () => 'tenant';
  if (option === 'weight') options['weight'] = act(1);
  if (option === 'priority') options['priority'] = act(0);
  if (option === 'skip') options['skip'] = act(false);
  return options as unknown as ConcurrencyLimitOptions;
}

/**
 * Sends one misbehaving request and checks that it ends in a 500 through
 * Express's error path with no permit leaked: a later request on the same
 * limit-1 route still gets in. `priority` is only asked of a queued request,
 * so for it the route is held full first.
 */
export async function expectServerError(
  express: ExpressFactory,
  listen: (app: ReturnType<ExpressFactory>) => Promise<number>,
  c: MisbehaviourCase,
) {
  const room = new Room();
  const recorder = errorRecorder();
  const mw = concurrencyLimit(optionsFor(c));
  const app = express();
  app.get('/hold', mw, room.handler);
  app.get('/x', mw, (_req, res) => {
    res.send('handled');
  });
  app.use(recorder.handler);
  const port = await listen(app);

  const queuedFirst = c.option === 'priority';
  const holder = queuedFirst ? open(port, '/hold') : undefined;
  if (queuedFirst) await room.whenStarted(1);

  const bad = open(port, '/x', { headers: { 'x-bad': '1' } });
  let status: number | undefined;
  bad.reply.then((r) => {
    status = r.status;
  });
  // Either it is answered, or it sits in the queue (which it must not).
  await until(() => expect(status !== undefined || mw.limiter.waiting > 0).toBe(true));
  expect(status, 'the misbehaving request is answered with 500').toBe(500);
  expect(recorder.errors).toHaveLength(1);
  const error = recorder.errors[0] as Error;
  if ('throws' in c.misbehaviour) {
    expect(error).toBe(c.misbehaviour.throws);
  } else {
    expect([TypeError, RangeError]).toContain(error.constructor);
    expect(error.message).toContain(`\`${c.option}\``);
  }
  expect(mw.limiter.waiting).toBe(0);
  expect(mw.limiter.inUse).toBe(queuedFirst ? 1 : 0);

  if (holder !== undefined) {
    room.releaseAll();
    expect((await holder.reply).status).toBe(200);
  }
  // Nothing leaked: a limit-1 route still admits.
  const good = await get(port, '/x');
  expect([good.status, good.body]).toEqual([200, 'handled']);
  expect(mw.limiter.inUse).toBe(0);
  expect(mw.limiter.waiting).toBe(0);
  expect(mw.limiter.counters.acquired).toBe(mw.limiter.counters.released);
  if (c.keyed || c.option === 'key') expect((mw.limiter as KeyedSemaphore).activeKeys).toBe(0);
}
