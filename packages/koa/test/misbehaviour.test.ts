import { type ConcurrencyLimitOptions, concurrencyLimit } from '@doorman/koa';
import type { KeyedSemaphore, Semaphore } from '@doorman/semaphore';
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { get, koaVersions, newApp, Stage, serve, until } from './helpers.js';

type Fn<T> = (ctx: Context) => T;

const thrower = (): never => {
  throw new Error('misbehaving option');
};

describe.each(koaVersions)(
  "%s: misbehaving option functions go down Koa's error path",
  (_label, KoaApp) => {
    /** An app behind `options`; `/hold` waits in the stage, anything else answers at once. */
    async function appWith(options: ConcurrencyLimitOptions) {
      const { app, errors } = newApp(KoaApp);
      const stage = new Stage();
      const mw = concurrencyLimit(options);
      let handled = 0;
      app.use(mw);
      app.use(async (ctx) => {
        handled++;
        if (ctx.path === '/hold') await stage.enter();
        ctx.body = 'ok';
      });
      const { port } = await serve(app);
      return { port, stage, mw, errors, handled: () => handled };
    }

    it.each<[string, Fn<string>, RegExp]>([
      ['throws', thrower, /misbehaving option/],
      ['returns a number', () => 42 as unknown as string, /`key`.*`42` \(number\)/],
      ['returns undefined', () => undefined as unknown as string, /`key`.*undefined/],
    ])('answers 500 when `key` %s, and keeps no key', async (_name, key, message) => {
      const { port, mw, errors, handled } = await appWith({ limit: 1, key });
      const reply = await get(port).reply;
      expect(reply.status).toBe(500);
      expect(handled()).toBe(0);
      expect(errors).toEqual([
        expect.objectContaining({ message: expect.stringMatching(message) }),
      ]);
      const keyed = mw.limiter as KeyedSemaphore;
      await until(() => keyed.activeKeys === 0, 'no key is kept');
      expect(keyed.counters.acquired).toBe(0);
    });

    it.each<[string, Fn<number>, ErrorConstructor]>([
      ['throws', thrower, Error],
      ['returns a string', () => 'heavy' as unknown as number, TypeError],
      ['returns 0', () => 0, RangeError],
      ['returns a fraction', () => 1.5, RangeError],
      ['returns NaN', () => Number.NaN, RangeError],
      ['returns more than the limit', () => 3, RangeError],
    ])('answers 500 when `weight` %s, and leaks no permit', async (_name, weight, ErrorClass) => {
      const { port, mw, errors, handled } = await appWith({ limit: 2, weight });
      const reply = await get(port).reply;
      expect(reply.status).toBe(500);
      expect(handled()).toBe(0);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(ErrorClass);
      const sem = mw.limiter as Semaphore;
      await sem.idle();
      expect(sem.counters.acquired).toBe(0);
    });

    it('answers 500 when `weight` misbehaves under `key`, and keeps no key', async () => {
      const { port, mw, errors } = await appWith({ limit: 2, key: () => 't', weight: () => 9 });
      expect((await get(port).reply).status).toBe(500);
      expect(errors[0]).toBeInstanceOf(RangeError);
      const keyed = mw.limiter as KeyedSemaphore;
      await until(() => keyed.activeKeys === 0, 'no key is kept');
      expect(keyed.inUse).toBe(0);
    });

    it.each<[string, Fn<number>, ErrorConstructor]>([
      ['throws', thrower, Error],
      ['returns NaN', () => Number.NaN, RangeError],
      ['returns a string', () => 'high' as unknown as number, TypeError],
    ])(
      'answers 500 when `priority` %s while queueing, and leaks nothing',
      async (_name, priority, ErrorClass) => {
        const { port, stage, mw, errors, handled } = await appWith({ limit: 1, priority });
        const sem = mw.limiter as Semaphore;
        // `priority` is asked only when a request must queue.
        const held = get(port, '/hold');
        await stage.reached(1);
        const reply = await get(port).reply;
        expect(reply.status).toBe(500);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toBeInstanceOf(ErrorClass);
        expect(sem.waiting).toBe(0);
        expect(sem.inUse).toBe(1);
        stage.openAll();
        expect((await held.reply).status).toBe(200);
        await sem.idle();
        expect(handled()).toBe(1);
        expect(sem.counters).toMatchObject({ acquired: 1, released: 1 });
      },
    );

    it('answers 500 when `skip` throws, and takes no permit', async () => {
      const { port, mw, errors, handled } = await appWith({ limit: 1, skip: thrower });
      expect((await get(port).reply).status).toBe(500);
      expect(handled()).toBe(0);
      expect(errors).toEqual([expect.objectContaining({ message: 'misbehaving option' })]);
      expect((mw.limiter as Semaphore).counters.acquired).toBe(0);
    });

    it('still admits normally after every kind of misbehaviour (nothing leaked)', async () => {
      let mode = 'ok';
      const misbehave = <T>(option: string, good: T): Fn<T> =>
        (() => {
          if (mode === `${option} throws`) throw new Error('misbehaving option');
          if (mode === `${option} returns garbage`) return Number.NaN;
          return good;
        }) as Fn<T>;
      const { port, mw, errors } = await appWith({
        limit: 1,
        key: misbehave('key', 'tenant'),
        weight: misbehave('weight', 1),
      });
      const keyed = mw.limiter as KeyedSemaphore;
      for (const m of [
        'key throws',
        'key returns garbage',
        'weight throws',
        'weight returns garbage',
      ]) {
        mode = m;
        expect((await get(port).reply).status, m).toBe(500);
      }
      mode = 'ok';
      const replies = await Promise.all([get(port), get(port), get(port)].map((c) => c.reply));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(errors).toHaveLength(4);
      await until(() => keyed.activeKeys === 0, 'every key is dropped');
      expect(keyed.counters).toMatchObject({ acquired: 3, released: 3 });
    });
  },
);
