import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { deferred, open, until, useApps, versions } from './helpers.js';

// The premise of the hook's hold rule, pinned on each Fastify major: after a
// client left, an async handler that resolves with nothing is dropped and no
// hook runs, so no hook can tell when such a handler is done. If Fastify ever
// runs one, the hook could hold until the handler settles (as `wrap` does).

describe.each(versions)('%s: what hooks see of a handler', (_name, fastify) => {
  const listen = useApps();

  it('runs no hook when an async handler settles after its client left', async () => {
    const seen: string[] = [];
    const app = fastify();
    for (const name of ['preSerialization', 'onSend'] as const) {
      app.addHook(name, async (_request, _reply, payload) => {
        seen.push(name);
        return payload;
      });
    }
    app.addHook('onError', async () => {
      seen.push('onError');
    });
    app.addHook('onResponse', async () => {
      seen.push('onResponse');
    });
    app.addHook('onRequestAbort', async (_request) => {
      seen.push('onRequestAbort');
    });
    const started = deferred();
    const finish = deferred();
    const settled = deferred();
    app.get('/', async () => {
      started.resolve();
      await finish.promise;
      settled.resolve();
    });
    const port = await listen(app);
    const client = open(port, '/');
    await started.promise;
    client.req.destroy();
    await until(() => expect(seen).toEqual(['onRequestAbort']));
    finish.resolve();
    await settled.promise;
    await turn();
    await turn();
    expect(seen).toEqual(['onRequestAbort']);
  });
});
