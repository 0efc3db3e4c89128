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

describe('examples/koa-router', () => {
  it('boots with its start command and serves every route', async () => {
    expect((await fetch(`${base}/search`)).status).toBe(200);
    expect((await fetch(`${base}/tenants/acme/jobs`, { method: 'POST' })).status).toBe(202);
    expect((await fetch(`${base}/images`)).status).toBe(200);
    expect((await fetch(`${base}/thumbnails`)).status).toBe(200);
    const status = (await (await fetch(`${base}/status`)).json()) as Array<{ name: string }>;
    expect(status.map((s) => s.name)).toEqual(['search', 'export', 'tenant_jobs', 'cpu']);
  });

  it('turns the second concurrent export away with 429 and Retry-After', async () => {
    const responses = await Promise.all([1, 2].map(() => fetch(`${base}/export`)));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 429]);
    const rejected = responses.find((r) => r.status === 429);
    expect(rejected?.headers.get('retry-after')).toBe('10');
    expect(await rejected?.text()).toContain('QUEUE_FULL');
  });
});
