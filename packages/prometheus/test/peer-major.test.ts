// The metrics suite runs once per supported prom-client major (vitest.config.ts):
// this pins that each run really loads the major it names, here and in the
// processes the README test starts.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { childMajor, expectedMajor, importedMajor } from '../../../test/support/peer-major.js';

describe('the prom-client under test', () => {
  it('is the major this test project names, in the tests and in child processes', async () => {
    const major = expectedMajor('prom-client');
    expect([14, 15]).toContain(major);
    expect(
      await importedMajor(
        'prom-client',
        () => import('prom-client/package.json', { with: { type: 'json' } }),
      ),
    ).toBe(major);
    expect(childMajor('prom-client', fileURLToPath(new URL('.', import.meta.url)))).toBe(major);
  });
});
