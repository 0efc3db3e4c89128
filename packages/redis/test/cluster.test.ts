// On Redis Cluster: three masters of its own, two ioredis Cluster clients
// (two "processes"). Every key of a limiter carries the hash tag {key}, so
// the scripts run in one slot; grants published on one node reach a
// subscriber connected to another.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RedisSemaphore } from '@doorman/redis';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  connect,
  freeClusterPort,
  type RedisServer,
  redisKeys,
  startRedisServer,
} from './helpers.js';

const run = promisify(execFile);
let dir: string;
let servers: RedisServer[] = [];
let ports: number[] = [];
let a: Cluster;
let b: Cluster;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'doorman-cluster-'));
  // A port found free can be taken before redis-server binds it (or its bus
  // port): then start the three nodes again on other ports.
  for (let attempt = 1; ; attempt++) {
    ports = [await freeClusterPort(), await freeClusterPort(), await freeClusterPort()];
    const started = await Promise.allSettled(
      ports.map((port) =>
        startRedisServer(port, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--dir',
          dir,
        ]),
      ),
    );
    servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed === undefined) break;
    await Promise.all(servers.map((s) => s.stop()));
    if (attempt === 3) throw failed.reason;
  }
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  for (const port of ports) {
    const node = await connect(`redis://127.0.0.1:${port}`);
    await vi.waitFor(
      async () => expect(String(await node.cluster('INFO'))).toContain('cluster_state:ok'),
      { timeout: 10_000, interval: 100 },
    );
    node.disconnect();
  }
  a = new Cluster([{ host: '127.0.0.1', port: ports[0] as number }]);
  b = new Cluster([{ host: '127.0.0.1', port: ports[1] as number }]);
}, 30_000);

afterAll(async () => {
  a?.disconnect();
  b?.disconnect();
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('on Redis Cluster', () => {
  it('keeps all of a limiter in one slot and hands off across nodes and clients', async () => {
    // One limiter key on each of the three masters.
    const ranges = (await a.cluster('SLOTS')) as unknown as Array<
      [number, number, [string, number]]
    >;
    const nodeOf = (slot: number) =>
      ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1] as number;
    const byNode = new Map<number, string>();
    for (let i = 0; byNode.size < 3; i++) {
      const key = `limiter-${i}`;
      const node = nodeOf(await a.cluster('KEYSLOT', redisKeys(key).leases));
      if (!byNode.has(node)) byNode.set(node, key);
    }
    for (const key of byNode.values()) {
      const keys = Object.values(redisKeys(key));
      const keySlots = new Set(await Promise.all(keys.map((k) => a.cluster('KEYSLOT', k))));
      expect(keySlots.size).toBe(1);

      const here = new RedisSemaphore({ redis: a, key, limit: 2 });
      const there = new RedisSemaphore({ redis: b, key, limit: 2 });
      const held = [await here.acquire(), await there.acquire()];
      const order: string[] = [];
      const first = there.acquire().then((p) => {
        order.push('there');
        return p;
      });
      await vi.waitFor(() => expect(there.waiting).toBe(1));
      await vi.waitFor(async () => expect(await a.zcard(redisKeys(key).queue)).toBe(1));
      const second = here.acquire().then((p) => {
        order.push('here');
        return p;
      });
      await vi.waitFor(async () => expect(await a.zcard(redisKeys(key).queue)).toBe(2));
      held[0]?.release();
      (await first).release();
      held[1]?.release();
      (await second).release();
      expect(order).toEqual(['there', 'here']);
      for (const s of [here, there]) {
        await s.close();
        await s.idle();
      }
      expect(await a.exists(redisKeys(key).used)).toBe(0);
    }
    expect([...byNode.keys()].sort()).toEqual([...ports].sort());
  });
});
