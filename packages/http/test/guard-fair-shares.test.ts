import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { guard } from '@doorman/http';
import { afterEach, describe, expect, it, vi } from 'vitest';

interface Held {
  id: string;
  res: ServerResponse;
}

/** A listener that holds every request until the test ends it, in order of arrival. */
function holdingListener() {
  const held: Held[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    held.push({ id: String(req.headers['x-id']), res });
  };
  return { held, listener };
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function listen(listener: http.RequestListener): Promise<number> {
  const server = http.createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function send(port: number, tenant: string, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        agent: false,
        headers: { 'x-tenant': tenant, 'x-id': id },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
  });
}

const until = (check: () => void) => vi.waitFor(check, { interval: 2, timeout: 5000 });

describe('guard: fair shares across tenants (`key` with `totalLimit`)', () => {
  it('serves the other tenants in turn while one tenant floods', async () => {
    const { held, listener } = holdingListener();
    const guarded = guard(
      {
        limit: 2,
        totalLimit: 2,
        maxQueue: 10,
        key: (req) => String(req.headers['x-tenant']),
      },
      listener,
    );
    const keyed = guarded.limiter;
    const port = await listen(guarded);

    const replies = [send(port, 'a', 'a1'), send(port, 'a', 'a2')];
    await until(() => expect(held).toHaveLength(2));
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
      replies.push(send(port, tenant, id));
      await until(() => expect(keyed.waiting).toBe(i + 1));
    }
    expect(keyed.waitingKeys).toBe(3);

    // One slot frees at a time. Tenant a holds its whole share (limit 2), so
    // the first free slot goes to b, the next to c, then the tenants take turns.
    for (let n = 3; n <= 9; n++) {
      (held[n - 3] as Held).res.end('ok');
      await until(() => expect(held).toHaveLength(n));
    }
    expect(held.map((h) => h.id)).toEqual(['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4', 'a5', 'a6']);
    expect(keyed.inUse).toBe(2);

    for (const h of held.slice(7)) h.res.end('ok');
    expect(await Promise.all(replies)).toEqual(Array(9).fill(200));
    await until(() => expect(keyed.activeKeys).toBe(0));
    expect(keyed.counters).toMatchObject({ acquired: 9, released: 9 });
  });
});
