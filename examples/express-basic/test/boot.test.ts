import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningExample, startExample } from '../../../test/support/example-process.js';

let example: RunningExample;
let base: string;

beforeAll(async () => {
  example = await startExample(fileURLToPath(new URL('..', import.meta.url)));
  base = example.url;
});

afterAll(() => example.stop());

describe('examples/express-basic', () => {
  it('boots with its start command and serves every route', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/orders`, { method: 'POST' })).status).toBe(201);
    expect((await fetch(`${base}/orders/bulk`, { method: 'POST' })).status).toBe(201);
    const status = (await (await fetch(`${base}/status`)).json()) as Array<{ name: string }>;
    expect(status.map((s) => s.name)).toEqual(['api', 'report', 'db']);
  });

  it('turns the third concurrent report away with 503 and Retry-After', async () => {
    const responses = await Promise.all([1, 2, 3].map(() => fetch(`${base}/report`)));
    const codes = responses.map((r) => r.status).sort();
    expect(codes).toEqual([200, 200, 503]);
    const rejected = responses.find((r) => r.status === 503);
    expect(rejected?.headers.get('retry-after')).toBe('5');
    expect(await rejected?.text()).toContain('QUEUE_FULL');
  });
});
