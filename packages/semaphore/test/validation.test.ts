import { Semaphore } from '@doorman/semaphore';
import { describe, expect, it, vi } from 'vitest';

type ErrorClass = typeof TypeError | typeof RangeError;

interface Case {
  /** What is called, for the test title. */
  call: string;
  /** The option the message must name. */
  option: string;
  /** How the given value must appear in the message. */
  shown: string;
  error: ErrorClass;
  /** `throws`: a synchronous throw; `rejects`: a returned promise that rejects. */
  how: 'throws' | 'rejects';
  run: () => unknown;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const bad = (value: unknown) => value as never;
const sem = () => new Semaphore({ limit: 4 });

function construct(option: string, value: unknown, error: ErrorClass, shown: string): Case {
  const options = option === 'limit' ? { limit: value } : { limit: 4, [option]: value };
  return {
    call: `new Semaphore({ ${option} })`,
    option,
    shown,
    error,
    how: 'throws',
    run: () => new Semaphore(bad(options)),
  };
}

function constructWith(options: unknown, error: ErrorClass, option: string, shown: string): Case {
  return {
    call: 'new Semaphore(options)',
    option,
    shown,
    error,
    how: 'throws',
    run: () => new Semaphore(bad(options)),
  };
}

function acquire(option: string, value: unknown, error: ErrorClass, shown: string): Case {
  return {
    call: `acquire({ ${option} })`,
    option,
    shown,
    error,
    how: 'rejects',
    run: () => sem().acquire(bad({ [option]: value })),
  };
}

const cases: Case[] = [
  // new Semaphore(options)
  constructWith(undefined, TypeError, 'options', '`undefined`'),
  constructWith(null, TypeError, 'options', '`null`'),
  constructWith(4, TypeError, 'options', '`4`'),
  constructWith('fast', TypeError, 'options', "`'fast'`"),
  constructWith([4], TypeError, 'options', '`[4]`'),
  construct('limit', undefined, TypeError, '`undefined`'),
  construct('limit', '4', TypeError, "`'4'`"),
  construct('limit', null, TypeError, '`null`'),
  construct('limit', 4n, TypeError, '`4n`'),
  construct('limit', 0, RangeError, '`0`'),
  construct('limit', -2, RangeError, '`-2`'),
  construct('limit', 1.5, RangeError, '`1.5`'),
  construct('limit', Number.NaN, RangeError, '`NaN`'),
  construct('limit', Number.POSITIVE_INFINITY, RangeError, '`Infinity`'),
  construct('maxQueue', '10', TypeError, "`'10'`"),
  construct('maxQueue', null, TypeError, '`null`'),
  construct('maxQueue', -1, RangeError, '`-1`'),
  construct('maxQueue', 2.5, RangeError, '`2.5`'),
  construct('maxQueue', Number.NaN, RangeError, '`NaN`'),
  construct('maxQueue', Number.NEGATIVE_INFINITY, RangeError, '`-Infinity`'),
  construct('queueTimeoutMs', '100', TypeError, "`'100'`"),
  construct('queueTimeoutMs', true, TypeError, '`true`'),
  construct('queueTimeoutMs', 0, RangeError, '`0`'),
  construct('queueTimeoutMs', -5, RangeError, '`-5`'),
  construct('queueTimeoutMs', Number.NaN, RangeError, '`NaN`'),
  construct('queueTimeoutMs', Number.NEGATIVE_INFINITY, RangeError, '`-Infinity`'),
  construct('order', 1, TypeError, '`1`'),
  construct('order', null, TypeError, '`null`'),
  construct('order', 'random', RangeError, "`'random'`"),
  construct('order', 'FIFO', RangeError, "`'FIFO'`"),
  construct('name', 5, TypeError, '`5`'),
  construct('name', {}, TypeError, '`{}`'),
  construct('name', '', RangeError, "`''`"),
  construct('limt', 4, TypeError, '`4`'),
  construct('timeoutMs', 5, TypeError, '`5`'),
  construct('weight', 2, TypeError, '`2`'),

  // acquire(options)
  {
    call: 'acquire(options)',
    option: 'acquire options',
    shown: '`5`',
    error: TypeError,
    how: 'rejects',
    run: () => sem().acquire(bad(5)),
  },
  {
    call: 'acquire(options)',
    option: 'acquire options',
    shown: '`null`',
    error: TypeError,
    how: 'rejects',
    run: () => sem().acquire(bad(null)),
  },
  acquire('weight', '2', TypeError, "`'2'`"),
  acquire('weight', null, TypeError, '`null`'),
  acquire('weight', 0, RangeError, '`0`'),
  acquire('weight', -1, RangeError, '`-1`'),
  acquire('weight', 1.5, RangeError, '`1.5`'),
  acquire('weight', Number.NaN, RangeError, '`NaN`'),
  acquire('weight', 5, RangeError, '`5`'),
  acquire('weight', Number.POSITIVE_INFINITY, RangeError, '`Infinity`'),
  acquire('priority', '1', TypeError, "`'1'`"),
  acquire('priority', null, TypeError, '`null`'),
  acquire('priority', Number.NaN, RangeError, '`NaN`'),
  acquire('priority', Number.POSITIVE_INFINITY, RangeError, '`Infinity`'),
  acquire('priority', Number.NEGATIVE_INFINITY, RangeError, '`-Infinity`'),
  acquire('timeoutMs', '10', TypeError, "`'10'`"),
  acquire('timeoutMs', null, TypeError, '`null`'),
  acquire('timeoutMs', 0, RangeError, '`0`'),
  acquire('timeoutMs', -1, RangeError, '`-1`'),
  acquire('timeoutMs', Number.NaN, RangeError, '`NaN`'),
  acquire('signal', {}, TypeError, '`{}`'),
  acquire('signal', 'abort', TypeError, "`'abort'`"),
  acquire('signal', null, TypeError, '`null`'),
  acquire('signal', { aborted: false }, TypeError, '`{"aborted":false}`'),
  acquire('wieght', 2, TypeError, '`2`'),
  acquire('limit', 2, TypeError, '`2`'),
  acquire('timeout', 100, TypeError, '`100`'),

  // tryAcquire(weight)
  ...(
    [
      ['1', TypeError, "`'1'`"],
      [null, TypeError, '`null`'],
      [0, RangeError, '`0`'],
      [1.5, RangeError, '`1.5`'],
      [5, RangeError, '`5`'],
      [Number.NaN, RangeError, '`NaN`'],
    ] as const
  ).map(
    ([value, error, shown]): Case => ({
      call: 'tryAcquire(weight)',
      option: 'weight',
      shown,
      error,
      how: 'throws',
      run: () => sem().tryAcquire(bad(value)),
    }),
  ),

  // setLimit(limit)
  ...(
    [
      ['8', TypeError, "`'8'`"],
      [undefined, TypeError, '`undefined`'],
      [0, RangeError, '`0`'],
      [-1, RangeError, '`-1`'],
      [2.5, RangeError, '`2.5`'],
      [Number.NaN, RangeError, '`NaN`'],
      [Number.POSITIVE_INFINITY, RangeError, '`Infinity`'],
    ] as const
  ).map(
    ([value, error, shown]): Case => ({
      call: 'setLimit(limit)',
      option: 'limit',
      shown,
      error,
      how: 'throws',
      run: () => sem().setLimit(bad(value)),
    }),
  ),

  // run(fn, options)
  ...(
    [
      ['x', "`'x'`"],
      [undefined, '`undefined`'],
      [{}, '`{}`'],
    ] as const
  ).map(
    ([value, shown]): Case => ({
      call: 'run(fn)',
      option: 'fn',
      shown,
      error: TypeError,
      how: 'rejects',
      run: () => sem().run(bad(value)),
    }),
  ),
  {
    call: 'run(fn, options)',
    option: 'weight',
    shown: '`0`',
    error: RangeError,
    how: 'rejects',
    run: () => sem().run(() => 1, { weight: 0 }),
  },
  {
    call: 'run(fn, options)',
    option: 'wieght',
    shown: '`1`',
    error: TypeError,
    how: 'rejects',
    run: () => sem().run(() => 1, bad({ wieght: 1 })),
  },

  // onWait(listener)
  ...(
    [
      ['x', "`'x'`"],
      [undefined, '`undefined`'],
      [null, '`null`'],
    ] as const
  ).map(
    ([value, shown]): Case => ({
      call: 'onWait(listener)',
      option: 'listener',
      shown,
      error: TypeError,
      how: 'throws',
      run: () => sem().onWait(bad(value)),
    }),
  ),
];

async function caught(c: Case): Promise<unknown> {
  if (c.how === 'throws') {
    try {
      c.run();
    } catch (error) {
      return error;
    }
    return undefined;
  }
  let result: unknown;
  // A promise-returning call reports bad input by rejecting, never by throwing.
  expect(() => {
    result = c.run();
  }).not.toThrow();
  expect(result).toBeInstanceOf(Promise);
  return (result as Promise<unknown>).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('option validation', () => {
  for (const c of cases) {
    const verb = c.how === 'throws' ? 'throws' : 'rejects with';
    it(`${c.call} with ${c.option} = ${c.shown} ${verb} a ${c.error.name} naming the option and the value`, async () => {
      const error = await caught(c);
      expect(error).toBeInstanceOf(c.error);
      expect((error as Error).constructor).toBe(c.error);
      const message = (error as Error).message;
      expect(message).toMatch(
        new RegExp(`\`${escapeRegExp(c.option)}\`.*${escapeRegExp(c.shown)}`),
      );
    });
  }

  it('accepts every valid value', async () => {
    const valid = [
      { limit: 1 },
      { limit: 1000, maxQueue: 0 },
      { limit: 2, maxQueue: 7, queueTimeoutMs: 0.5, order: 'lifo', name: 'x' },
      { limit: 2, maxQueue: Number.POSITIVE_INFINITY, queueTimeoutMs: Number.POSITIVE_INFINITY },
      { limit: 2, order: 'fifo', name: undefined, maxQueue: undefined },
    ] as const;
    for (const options of valid) expect(() => new Semaphore(options)).not.toThrow();
    const s = new Semaphore({ limit: 4 });
    const controller = new AbortController();
    const permit = await s.acquire({
      weight: 4,
      priority: -2.5,
      timeoutMs: Number.POSITIVE_INFINITY,
      signal: controller.signal,
    });
    permit.release();
    (await s.acquire({})).release();
    (await s.acquire(undefined)).release();
    (await s.acquire({ weight: undefined, priority: 1e9, timeoutMs: 1 })).release();
    expect(s.tryAcquire(undefined)?.release()).toBeUndefined();
    expect(() => s.setLimit(1)).not.toThrow();
    expect(s.inUse).toBe(0);
  });

  it('names the current limit when a weight exceeds it', async () => {
    const s = new Semaphore({ limit: 3 });
    await expect(s.acquire({ weight: 4 })).rejects.toThrow(/limit \(3\).*`4`/);
  });

  it('leaves no trace of a rejected acquire: nothing queued, held or counted, fn not called', async () => {
    const s = new Semaphore({ limit: 1 });
    const holder = await s.acquire();
    const fn = vi.fn();
    await expect(s.acquire({ weight: 2 })).rejects.toThrow(RangeError);
    await expect(s.acquire(bad({ wieght: 1 }))).rejects.toThrow(TypeError);
    await expect(s.run(fn, { priority: Number.NaN })).rejects.toThrow(RangeError);
    expect(fn).not.toHaveBeenCalled();
    expect([s.inUse, s.waiting]).toEqual([1, 0]);
    expect(s.counters).toEqual({
      acquired: 1,
      released: 0,
      rejected: { queue_full: 0, timeout: 0, aborted: 0, closed: 0, unavailable: 0 },
    });
    holder.release();
  });
});
