import { randomBytes } from 'node:crypto';
import { concurrencyLimit as expressLimit } from '@doorman/express';
import { guard } from '@doorman/http';
import { concurrencyLimit as koaLimit } from '@doorman/koa';
import { RedisSemaphore } from '@doorman/redis';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

// `.limiter` is typed as the limiter given, so the README's
// `await middleware.limiter.close()` compiles without a cast (pnpm typecheck)
// and closes that very limiter.
it('carries a given RedisSemaphore as `.limiter`, typed as one: close() needs no cast', async () => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    const made = () =>
      new RedisSemaphore({
        redis,
        key: `test-contract-${randomBytes(5).toString('hex')}`,
        limit: 2,
      });
    const limits = [
      expressLimit({ limiter: made(), maxQueue: 5 }),
      koaLimit({ limiter: made(), queueTimeoutMs: 100 }),
      guard({ limiter: made() }, () => {}),
    ];
    for (const middleware of limits) {
      const limiter: RedisSemaphore = middleware.limiter;
      expect(limiter).toBeInstanceOf(RedisSemaphore);
      await middleware.limiter.close();
      await expect(middleware.limiter.acquire()).rejects.toMatchObject({ code: 'CLOSED' });
    }
  } finally {
    await redis.quit();
  }
});
