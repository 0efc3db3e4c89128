import type { IncomingHttpHeaders } from 'node:http';
import type { KeyedSemaphore } from '@doorman/semaphore';
import { expect, it } from 'vitest';
import { waitUntil } from '../kit/index.js';
import type { Harness } from './harness.js';
import { rejected, rejection, send } from './requests.js';

/** The tenant a request names: Express's, Koa's and Fastify's requests and Node's all carry `headers`. */
const byTenant = (req: { headers: IncomingHttpHeaders }) => String(req.headers['x-tenant']);

/** Fair shares across tenants: the round robin of keys, and `totalLimit` against key rotation. */
export function fairShares(t: Harness): void {
  it('serves the other tenants in turn while one tenant floods', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 2, totalLimit: 2, maxQueue: 10, key: byTenant },
      { routes: { '/x': { kind: 'hold', stage } } },
    );
    const keyed = b.limiter as KeyedSemaphore;
    const sendAs = (tenant: string, id: string) => send(b, '/x', id, { 'x-tenant': tenant });

    const calls = [sendAs('a', 'a1'), sendAs('a', 'a2')];
    await stage.reached(2);
    // Tenant a floods: four more wait. Then b and c arrive, one after the other.
    const later: Array<[string, string]> = [
      ['a', 'a3'],
      ['a', 'a4'],
      ['a', 'a5'],
      ['a', 'a6'],
      ['b', 'b1'],
      ['b', 'b2'],
      ['c', 'c1'],
    ];
    for (const [i, [tenant, id]] of later.entries()) {
      calls.push(sendAs(tenant, id));
      await waitUntil(() => keyed.waiting === i + 1, `${i + 1} requests wait`);
    }
    expect(keyed.waitingKeys).toBe(3);
    expect(keyed.waitingOf('a')).toBe(4);

    // One slot frees at a time. Tenant a holds its whole share (limit 2), so
    // the first free slot goes to b, the next to c, then the tenants take turns.
    for (let n = 3; n <= 9; n++) {
      stage.openNext();
      await stage.reached(n);
    }
    expect(stage.labels).toEqual(['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4', 'a5', 'a6']);
    expect(stage.maxActive).toBe(2);
    expect(keyed.inUse).toBe(2);

    stage.openAll();
    for (const reply of await Promise.all(calls.map((c) => c.reply))) {
      expect(reply.status).toBe(200);
    }
    await waitUntil(() => keyed.activeKeys === 0, 'every key is dropped');
    expect(keyed.counters).toMatchObject({ acquired: 9, released: 9 });
  });

  it('never lets rotating keys hold more than totalLimit', async () => {
    const stage = t.stage();
    const b = await t.build(
      { limit: 1, totalLimit: 3, maxQueue: 0, key: byTenant },
      { routes: { '/x': { kind: 'hold', stage } } },
    );
    const keyed = b.limiter as KeyedSemaphore;
    const admitted = [1, 2, 3].map((i) => send(b, '/x', `k${i}`, { 'x-tenant': `k${i}` }));
    await stage.reached(3);
    // A fresh key for every request: each is a new tenant, yet the total is spent.
    const rotated = await send(b, '/x', 'k4', { 'x-tenant': 'k4' }).reply;
    expect(rejection(rotated)).toEqual(rejected('QUEUE_FULL'));
    expect(keyed.inUse).toBe(3);
    stage.openAll();
    await Promise.all(admitted.map((c) => c.reply));
    await waitUntil(() => keyed.activeKeys === 0, 'every key is dropped');
  });
}
