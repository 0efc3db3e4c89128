// Compile-time checks of the middleware options, run by `pnpm typecheck`
// (tsconfig.test.json): each `@ts-expect-error` line must be an error, or
// the type check fails. Never executed.
import { concurrencyLimit as expressLimit } from '@doorman/express';
import { concurrencyLimit as fastifyLimit } from '@doorman/fastify';
import { guard } from '@doorman/http';
import { concurrencyLimit as koaLimit } from '@doorman/koa';
import { KeyedSemaphore, Semaphore } from '@doorman/semaphore';

const shared = new Semaphore({ limit: 4, name: 'db' });
const listener = () => {};

export async function expressOptions(): Promise<void> {
  // @ts-expect-error neither `limit` nor `limiter`
  expressLimit({});
  // @ts-expect-error both `limit` and `limiter`
  expressLimit({ limit: 2, limiter: shared });
  // @ts-expect-error `order` configures a semaphore the middleware would build
  expressLimit({ limiter: shared, order: 'lifo' });
  // @ts-expect-error `name` belongs to the given limiter
  expressLimit({ limiter: shared, name: 'api' });
  // With `limiter`, `maxQueue` and `queueTimeoutMs` bound this middleware's own line.
  const given = expressLimit({ limiter: shared, maxQueue: 10, queueTimeoutMs: 500 });
  const semaphore: Semaphore = given.limiter;
  await semaphore.close();
  // `.limiter` is typed as what the options build: close() and idle() need no cast.
  await expressLimit({ limit: 2 }).limiter.close();
  const keyed: KeyedSemaphore = expressLimit({ limit: 2, key: (req) => req.ip ?? '' }).limiter;
  await keyed.close();
}

export async function koaOptions(): Promise<void> {
  // @ts-expect-error neither `limit` nor `limiter`
  koaLimit({});
  // @ts-expect-error both `limit` and `limiter`
  koaLimit({ limit: 2, limiter: shared });
  // @ts-expect-error `order` configures a semaphore the middleware would build
  koaLimit({ limiter: shared, order: 'lifo' });
  await koaLimit({ limit: 2 }).limiter.idle();
  const semaphore: Semaphore = koaLimit({ limiter: shared, maxQueue: 1 }).limiter;
  await semaphore.close();
}

export async function guardOptions(): Promise<void> {
  // @ts-expect-error neither `limit` nor `limiter`
  guard({}, listener);
  // @ts-expect-error both `limit` and `limiter`
  guard({ limit: 2, limiter: shared }, listener);
  await guard({ limit: 2 }, listener).limiter.close();
  const semaphore: Semaphore = guard({ limiter: shared }, listener).limiter;
  await semaphore.idle();
}

export async function fastifyOptions(): Promise<void> {
  // @ts-expect-error neither `limit` nor `limiter`
  fastifyLimit({});
  // @ts-expect-error both `limit` and `limiter`
  fastifyLimit({ limit: 2, limiter: shared });
  // @ts-expect-error `order` configures a semaphore the hook would build
  fastifyLimit({ limiter: shared, order: 'lifo' });
  // A keyed limiter shared by several middlewares goes with `key`.
  const tenants = new KeyedSemaphore({ limit: 2, totalLimit: 8 });
  const sharedKeys: KeyedSemaphore = fastifyLimit({
    limiter: tenants,
    key: (req) => req.ip,
  }).limiter;
  await sharedKeys.close();
  await fastifyLimit({ limit: 2 }).limiter.idle();
  const semaphore: Semaphore = fastifyLimit({ limiter: shared, queueTimeoutMs: 100 }).limiter;
  await semaphore.close();
  const keyed: KeyedSemaphore = fastifyLimit({ limit: 2, key: (request) => request.ip }).limiter;
  await keyed.close();
}
