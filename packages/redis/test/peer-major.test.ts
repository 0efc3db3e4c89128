// The Redis suite runs once per supported ioredis major (vitest.config.ts):
// this pins that each run really loads the major it names, here and in the
// fixture processes the other tests start.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { childMajor, expectedMajor, importedMajor } from '../../../test/support/peer-major.js';

describe('the ioredis under test', () => {
  it('is the major this test project names, in the tests and in child processes', async () => {
    const major = expectedMajor('ioredis');
    expect([5, 6]).toContain(major);
    expect(
      await importedMajor(
        'ioredis',
        () => import('ioredis/package.json', { with: { type: 'json' } }),
      ),
    ).toBe(major);
    expect(childMajor('ioredis', fileURLToPath(new URL('.', import.meta.url)))).toBe(major);
  });
});
