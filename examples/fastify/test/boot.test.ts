import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningExample, startExample } from '../../../test/support/example-process.js';

let example: RunningExample;
let base: string;

beforeAll(async () => {
  example = await startExample(fileURLToPath(new URL('..', import.meta.url)));
  base = example.url;
});

afterAll(() => example.stop());

interface Numbers {
  name: string;
  inUse: number;
  waiting: number;
}

async function status(): Promise<Numbers[]> {
  return (await (await fetch(`${base}/status`)).json()) as Numbers[];
}

describe('examples/fastify', () => {
  it('boots with its start command and serves every route', async () => {
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ ok: true });
    expect((await status()).map((s) => s.name)).toEqual(['api', 'report']);
  });

  it('turns a third concurrent report away with 503 and Retry-After, and frees both limits after', async () => {
    const running = [fetch(`${base}/report`), fetch(`${base}/report`)];
    await vi.waitFor(async () => expect((await status())[1]?.inUse).toBe(2), {
      interval: 5,
      timeout: 5000,
    });
    const refused = await fetch(`${base}/report`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.text()).toBe('Service Unavailable (QUEUE_FULL)\n');
    const done = await Promise.all(running);
    expect(done.map((r) => r.status)).toEqual([200, 200]);
    expect(await done[0]?.json()).toEqual({ rows: 42 });
    await vi.waitFor(
      async () => expect((await status()).map((s) => s.inUse + s.waiting)).toEqual([0, 0]),
      { interval: 5, timeout: 5000 },
    );
  });
});
