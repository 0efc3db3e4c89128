import * as doorman from '@doorman/semaphore';
import {
  DoormanError,
  isDoormanError,
  LimiterClosedError,
  LimiterUnavailableError,
  QueueFullError,
  QueueTimeoutError,
  reasonOf,
  Semaphore,
} from '@doorman/semaphore';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flush, track } from './helpers.js';

const classes = [
  ['QueueFullError', QueueFullError, 'QUEUE_FULL'],
  ['QueueTimeoutError', QueueTimeoutError, 'QUEUE_TIMEOUT'],
  ['LimiterClosedError', LimiterClosedError, 'CLOSED'],
  ['LimiterUnavailableError', LimiterUnavailableError, 'UNAVAILABLE'],
] as const;

describe('errors', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('exports every error class by name', () => {
    for (const [name] of classes) expect(doorman).toHaveProperty(name);
    expect(doorman).toHaveProperty('DoormanError');
    expect(doorman).toHaveProperty('isDoormanError');
  });

  it.each(classes.map(([name, Cls, code]) => ({ name, Cls, code })))(
    '$name has code $code, its own name and the DoormanError ancestry',
    ({ name, Cls, code }) => {
      const error = new Cls('ktv');
      expect(error).toBeInstanceOf(DoormanError);
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe(code);
      expect(error.name).toBe(name);
      expect(error.limiter).toBe('ktv');
      expect(error.message).toMatch(/"ktv"/);
      expect(String(error)).toMatch(new RegExp(`^${name}: `));
    },
  );

  it('names the limiter in the message and `limiter` of every rejection a semaphore makes', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore({ limit: 1, maxQueue: 1, queueTimeoutMs: 10, name: 'ktv' });
    await sem.acquire();
    const timedOut = track(sem.acquire());
    const full = track(sem.acquire());
    vi.advanceTimersByTime(10);
    const closedWaiter = track(sem.acquire());
    await sem.close();
    const closedLater = track(sem.acquire());
    await flush();
    const errors = [timedOut, full, closedWaiter, closedLater].map((t) => t.error as DoormanError);
    expect(errors.map((e) => e.code)).toEqual(['QUEUE_TIMEOUT', 'QUEUE_FULL', 'CLOSED', 'CLOSED']);
    for (const error of errors) {
      expect(error.limiter).toBe('ktv');
      expect(error.message).toContain('ktv');
    }
  });

  it('says how many waiters filled the queue and how long the timeout was', () => {
    expect(new QueueFullError('api', 50).message).toMatch(/50 waiters/);
    expect(new QueueFullError('api', 1).message).toMatch(/1 waiter\b/);
    expect(new QueueTimeoutError('api', 2000).message).toMatch(/2000 ms/);
  });

  it('gives every rejection a one-line stack, so a logged rejection is one short line', async () => {
    const sem = new Semaphore({ limit: 1, maxQueue: 0, name: 'api' });
    const held = await sem.acquire();
    const refused = (await sem.acquire().catch((error: unknown) => error)) as Error;
    expect(refused.stack).toBe(`QueueFullError: ${refused.message}`);
    for (const error of [
      new QueueTimeoutError('api', 10),
      new LimiterClosedError('api'),
      new LimiterUnavailableError('api', new Error('down')),
    ]) {
      expect(error.stack).toBe(`${error.name}: ${error.message}`);
    }
    // Other errors keep their stacks: the limit is restored after each rejection is made.
    expect(new Error('plain').stack?.split('\n').length).toBeGreaterThan(1);
    held.release();
  });

  it('keeps the cause of LimiterClosedError and LimiterUnavailableError', () => {
    const reason = new Error('ECONNREFUSED');
    expect(new LimiterClosedError('x', reason).cause).toBe(reason);
    expect(new LimiterUnavailableError('x', reason).cause).toBe(reason);
    expect(new LimiterUnavailableError('x').cause).toBeUndefined();
  });

  it('isDoormanError(e) is true for every doorman error', () => {
    for (const [, Cls] of classes) expect(isDoormanError(new Cls())).toBe(true);
  });

  it('isDoormanError(e, code) is true only for that code', () => {
    for (const [, Cls, code] of classes) {
      const error = new Cls();
      for (const [, , other] of classes) expect(isDoormanError(error, other)).toBe(other === code);
    }
  });

  it('isDoormanError is false for plain errors and non-errors', () => {
    for (const value of [
      new Error('QUEUE_FULL'),
      new TypeError('x'),
      null,
      undefined,
      'QUEUE_FULL',
      42,
      {},
    ]) {
      expect(isDoormanError(value)).toBe(false);
    }
  });

  it('isDoormanError is false for objects that only copy `code`', () => {
    const lookalike = Object.assign(new Error('busy'), { code: 'QUEUE_FULL' });
    expect(isDoormanError(lookalike)).toBe(false);
    expect(isDoormanError({ code: 'CLOSED', name: 'LimiterClosedError' }, 'CLOSED')).toBe(false);
  });

  it('isDoormanError is true for an error made by another copy of the package', () => {
    // Another copy (the CommonJS build next to the ESM one, or another version)
    // has its own classes, so `instanceof` fails across copies. What the copies
    // share is the registry-wide brand Symbol.for('doorman.error') and the code;
    // an object built like this is what the other copy's constructor produces.
    const foreign = Object.create(Error.prototype) as Error & { code: string };
    Object.defineProperty(foreign, Symbol.for('doorman.error'), { value: true });
    foreign.code = 'QUEUE_TIMEOUT';
    foreign.message = 'Timed out after 10 ms in the queue';
    expect(foreign instanceof DoormanError).toBe(false);
    expect(isDoormanError(foreign)).toBe(true);
    expect(isDoormanError(foreign, 'QUEUE_TIMEOUT')).toBe(true);
    expect(isDoormanError(foreign, 'QUEUE_FULL')).toBe(false);
  });

  it('isDoormanError is false for a branded object with an unknown code', () => {
    const odd = Object.create(Error.prototype) as Error & { code: string };
    Object.defineProperty(odd, Symbol.for('doorman.error'), { value: true });
    odd.code = 'SOMETHING_ELSE';
    expect(isDoormanError(odd)).toBe(false);
  });

  it('does not treat an abort reason as a doorman error', async () => {
    const sem = new Semaphore({ limit: 1 });
    const attempt = track(sem.acquire({ signal: AbortSignal.abort() }));
    await flush();
    expect(isDoormanError(attempt.error)).toBe(false);
  });

  it('maps each code to its counter reason', () => {
    expect(classes.map(([, , code]) => reasonOf(code))).toEqual([
      'queue_full',
      'timeout',
      'closed',
      'unavailable',
    ]);
  });
});
