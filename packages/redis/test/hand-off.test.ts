// Who gets a released permit: by default the head of the shared line,
// whichever process it is in (strict FIFO across processes); with
// `localHandOff: n`, the releasing process's own longest waiter, at most n
// times in a row before the units go back to the line. Two clients stand
// for two processes.
import { type RedisPermit, RedisSemaphore } from '@doorman/redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, redisKeys, uniqueKey } from './helpers.js';

let one: Redis;
let two: Redis;
let admin: Redis;

beforeAll(async () => {
  [one, two, admin] = await Promise.all([connect(), connect(), connect()]);
});

afterAll(async () => {
  await Promise.all([one.quit(), two.quit(), admin.quit()]);
});

/** `here` holds the only unit; `there` queues first, then `here` queues `count` more. */
async function line(localHandOff: number | undefined, count: number) {
  const key = uniqueKey('handoff');
  const options = { key, limit: 1, ...(localHandOff === undefined ? {} : { localHandOff }) };
  const here = new RedisSemaphore({ redis: one, ...options });
  const there = new RedisSemaphore({ redis: two, ...options });
  const order: string[] = [];
  const holder = await here.acquire();
  const queued = async (s: RedisSemaphore, label: string) => {
    const length = (await admin.zcard(redisKeys(key).queue)) + 1;
    const p = s.acquire();
    await vi.waitFor(async () => expect(await admin.zcard(redisKeys(key).queue)).toBe(length));
    // Wrapped: an async function returning the promise itself would wait for it.
    return {
      admitted: p.then((permit: RedisPermit) => {
        order.push(label);
        return permit;
      }),
    };
  };
  const remote = (await queued(there, 'there')).admitted;
  const locals: Array<Promise<RedisPermit>> = [];
  for (let i = 1; i <= count; i++) locals.push((await queued(here, `here ${i}`)).admitted);
  return { here, there, holder, remote, locals, order };
}

describe('hand-off of a released permit', () => {
  it('goes to the head of the shared line by default, even in another process', async () => {
    const { here, there, holder, remote, locals, order } = await line(undefined, 1);
    expect(here.localHandOff).toBe(0);
    holder.release();
    (await remote).release();
    (await locals[0])?.release();
    expect(order).toEqual(['there', 'here 1']);
    await Promise.all([here.close(), there.close()]);
  });

  it('with localHandOff 2, goes to this process first, at most twice in a row', async () => {
    const { here, there, holder, remote, locals, order } = await line(2, 3);
    holder.release();
    const first = await locals[0];
    // Handed over without Redis: the same holder id, not the waiter's own.
    expect(first?.id).toBe(holder.id);
    first?.release();
    (await locals[1])?.release();
    // Two hand-offs made: this release goes back to the line, whose head is `there`.
    (await remote).release();
    (await locals[2])?.release();
    expect(order).toEqual(['here 1', 'here 2', 'there', 'here 3']);
    await Promise.all([here.idle(), there.idle()]);
    expect(await admin.exists(...Object.values(redisKeys(here.key)))).toBe(0);
    await Promise.all([here.close(), there.close()]);
  });

  it('refuses a localHandOff that is not an integer >= 0', () => {
    expect(() => new RedisSemaphore({ redis: one, key: 'k', limit: 1, localHandOff: -1 })).toThrow(
      'Expected `localHandOff` to be an integer >= 0, got `-1` (number)',
    );
    expect(
      () => new RedisSemaphore({ redis: one, key: 'k', limit: 1, localHandOff: '2' as never }),
    ).toThrow(TypeError);
  });
});
