// Safety across processes: 4 processes x 25 concurrent acquirers share a
// limit of 10. Every holder INCRs a Redis counter right after it is admitted
// and DECRs it before it releases; a count above the limit would be an
// over-admission somewhere in the cluster.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Fixture, REDIS_URL, startFixture, uniqueKey } from './helpers.js';

const PROCESSES = 4;
const CONCURRENCY = 25;
const ROUNDS = 25; // 4 x 25 x 25 = 2,500 acquisitions
const LIMIT = 10;

const key = uniqueKey('over');
const counter = `${key}:inside`;
let redis: Redis;
let children: Fixture[] = [];

beforeAll(async () => {
  redis = await connect();
  children = Array.from({ length: PROCESSES }, () =>
    startFixture('acquirer.ts', {
      REDIS_URL,
      KEY: key,
      LIMIT: String(LIMIT),
      COUNTER: counter,
      CONCURRENCY: String(CONCURRENCY),
      ROUNDS: String(ROUNDS),
    }),
  );
  await Promise.all(children.map((c) => c.next('ready')));
}, 90_000);

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await redis.del(counter);
  await redis.quit();
});

describe('over-admission across processes', () => {
  it(`never admits more than ${LIMIT} at once over ${PROCESSES * CONCURRENCY * ROUNDS} acquisitions`, async () => {
    for (const child of children) child.send({ type: 'go' });
    const reports = await Promise.all(children.map((c) => c.next('done')));
    const acquired = reports.reduce((sum, r) => sum + (r['acquired'] as number), 0);
    const over = reports.flatMap((r) => r['over'] as number[]);
    expect(acquired).toBe(PROCESSES * CONCURRENCY * ROUNDS);
    expect(acquired).toBeGreaterThanOrEqual(2000);
    expect(over).toEqual([]);
    // Holders did overlap (the limit was contended), and the counter is back to 0.
    expect(Math.max(...reports.map((r) => r['peak'] as number))).toBeGreaterThan(1);
    expect(await redis.get(counter)).toBe('0');
  }, 90_000);
});
