import { concurrencyLimit } from '@doorman/express';
import { LimiterUnavailableError, Semaphore } from '@doorman/semaphore';
import { describe, expect, it } from 'vitest';
import { errorRecorder, get, Room, useServers, versions } from './helpers.js';

describe.each(versions)('%s: admission', (_label, express) => {
  const listen = useServers();

  it('rejects with 503 UNAVAILABLE when a shared limiter cannot be reached', async () => {
    const local = new Semaphore({ limit: 1, name: 'shared' });
    // A limiter whose store is down, as a RedisSemaphore with failOpen off reports it.
    const down = {
      name: 'shared',
      get limit() {
        return local.limit;
      },
      get inUse() {
        return local.inUse;
      },
      get waiting() {
        return local.waiting;
      },
      get counters() {
        return local.counters;
      },
      onWait: local.onWait.bind(local),
      acquire: () =>
        Promise.reject(new LimiterUnavailableError('shared', new Error('ECONNREFUSED'))),
    };
    const recorder = errorRecorder();
    const room = new Room();
    const app = express();
    app.get('/sing', concurrencyLimit({ limiter: down, retryAfter: 5 }), room.handler);
    app.use(recorder.handler);
    const port = await listen(app);

    const reply = await get(port, '/sing');
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('5');
    expect(reply.body).toBe('Service Unavailable (UNAVAILABLE)\n');
    expect(room.started).toEqual([]);
    expect(recorder.errors).toEqual([]);
  });
});
