// The shared state heals from the loss of any one of its keys (an allkeys-*
// eviction, a failover to a replica that lagged, a DEL): acquires work again
// within a renewal period or two, with nobody deleting anything by hand, and
// Redis never counts more than the limit. Two clients stand for two
// processes: each has its own subscriber and instance id.
import { type RedisPermit, RedisSemaphore } from '@doorman/redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, redisKeys, uniqueKey } from './helpers.js';

const LIMIT = 2;
const LEASE_MS = 300; // renewals every 100 ms
/** Generous bound on "healed": a few renewal periods. */
const HEALED_WITHIN = { timeout: 3 * LEASE_MS, interval: 10 };

let admin: Redis;
let one: Redis;
let two: Redis;

beforeAll(async () => {
  [admin, one, two] = await Promise.all([connect(), connect(), connect()]);
});

afterAll(async () => {
  await Promise.all([admin.quit(), one.quit(), two.quit()]);
});

type Lost = keyof ReturnType<typeof redisKeys>;

/** Two processes on one limit, with bookkeeping of what each admitted. */
function cluster(lost: Lost) {
  const key = uniqueKey(`heal-${lost}`);
  const options = { key, limit: LIMIT, leaseMs: LEASE_MS };
  const a = new RedisSemaphore({ redis: one, ...options });
  const b = new RedisSemaphore({ redis: two, ...options });
  const held = new Set<RedisPermit>();
  /** Permits Redis no longer counts by design (the loss of `leases` forgot them). */
  const forgotten = new Set<RedisPermit>();
  let peak = 0;
  const counted = () => {
    let n = 0;
    for (const p of held) if (!p.released && !p.lost && !forgotten.has(p)) n += p.weight;
    return n;
  };
  const admitted = async (acquire: Promise<RedisPermit>) => {
    const permit = await acquire;
    held.add(permit);
    peak = Math.max(peak, counted());
    return permit;
  };
  return { key, keys: redisKeys(key), a, b, admitted, forgotten, peak: () => peak };
}

describe('healing after the loss of one key', () => {
  for (const lost of ['leases', 'used', 'queue', 'seq'] as const) {
    it(`serves the line again after \`${lost}\` is lost, never counting more than the limit`, async () => {
      const { keys, a, b, admitted, forgotten, peak } = cluster(lost);
      const holders = [await admitted(a.acquire()), await admitted(a.acquire())];
      // The line: b, a, b (sent one by one, so the order is known).
      const waiting: Array<Promise<RedisPermit>> = [];
      for (const s of [b, a, b]) {
        waiting.push(admitted(s.acquire({ timeoutMs: 10_000 })));
        const length = waiting.length;
        await vi.waitFor(async () => expect(await admin.zcard(keys.queue)).toBe(length));
      }
      const line = await admin.zrange(keys.queue, 0, '-1');

      await admin.del(keys[lost]);

      if (lost === 'leases') {
        // Redis forgot the holders: both processes' renewals find out, the
        // holders' process flags them lost, and the line is served at once.
        for (const p of holders) forgotten.add(p);
        await vi.waitFor(() => expect(holders.every((p) => p.lost)).toBe(true), HEALED_WITHIN);
        expect(a.counters.leasesLost).toBe(2);
      } else {
        if (lost === 'seq') {
          // A newcomer still queues behind everyone already in line.
          waiting.push(admitted(b.acquire({ timeoutMs: 10_000 })));
          await vi.waitFor(async () => expect(await admin.zcard(keys.queue)).toBe(4));
          const now = await admin.zrange(keys.queue, 0, '-1');
          expect(now.slice(0, 3)).toEqual(line);
        }
        if (lost === 'used') {
          // Counted again from the holders on the next script run.
          await vi.waitFor(
            async () => expect(await admin.get(keys.used)).toBe(String(LIMIT)),
            HEALED_WITHIN,
          );
        }
        for (const p of holders) p.release();
      }

      // Everyone in line is admitted in turn, each giving its place back.
      await Promise.all(waiting.map((w) => w.then((p) => p.release())));
      for (const p of holders) p.release();
      expect(holders.every((p) => p.lost === (lost === 'leases'))).toBe(true);

      // And a fresh acquire from either process goes straight in.
      const fresh = await Promise.all([
        a.acquire({ timeoutMs: 2_000 }),
        b.acquire({ timeoutMs: 2_000 }),
      ]);
      for (const p of fresh) p.release();
      await Promise.all([a.close(), b.close()]);
      await Promise.all([a.idle(), b.idle()]);

      expect(peak()).toBeLessThanOrEqual(LIMIT);
      // Nothing is left behind: the healed state emptied like any other.
      expect(await admin.exists(...Object.values(keys))).toBe(0);
    });
  }

  it('is not fooled by a stale `used` when `leases` is gone: a fresh acquire goes straight in', async () => {
    // The case of the report: limit 2, nobody holding, `used` left at 2.
    const { key, keys, a } = cluster('leases');
    await admin.set(keys.used, String(LIMIT));
    const permit = await a.acquire({ timeoutMs: 1_000 });
    expect(await admin.get(keys.used)).toBe('1');
    permit.release();
    await a.close();
    await a.idle();
    expect(await admin.exists(...Object.values(redisKeys(key)))).toBe(0);
  });
});
