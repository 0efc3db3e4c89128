import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Vitest 5 prints failed tests with Map.groupBy, which Node 20 lacks; without
// it a failing run ends in a reporter crash instead of the failure's details.
if (typeof (Map as { groupBy?: unknown }).groupBy !== 'function') {
  Object.defineProperty(Map, 'groupBy', {
    configurable: true,
    writable: true,
    value<K, T>(items: Iterable<T>, keyOf: (item: T, index: number) => K): Map<K, T[]> {
      const groups = new Map<K, T[]>();
      let index = 0;
      for (const item of items) {
        const key = keyOf(item, index++);
        const group = groups.get(key);
        if (group === undefined) groups.set(key, [item]);
        else group.push(item);
      }
      return groups;
    },
  });
}

// The suites that talk to a peer dependency also run against its older
// supported major, installed at the root under an alias (`ioredis5`,
// `prom-client14`): imports of the peer, in the tests and in the packages'
// sources, resolve to the alias, and so do those of the child processes the
// tests start (test/support/peer-alias.mjs, through NODE_OPTIONS).
const peerAlias = fileURLToPath(new URL('./test/support/peer-alias.mjs', import.meta.url));
function olderMajor(name: string, peer: string, alias: string, include: string[]) {
  return {
    extends: true as const,
    resolve: { alias: [{ find: new RegExp(`^${peer}(?=/|$)`), replacement: alias }] },
    test: {
      name,
      include,
      env: {
        DOORMAN_PEER_ALIASES: JSON.stringify({ [peer]: alias }),
        DOORMAN_PEER_UNDER_TEST: JSON.stringify({ [peer]: name.split(' ').pop() }),
        NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import=${peerAlias}`.trim(),
      },
    },
  };
}

// Tests import the packages' TypeScript sources through the `@doorman/source`
// export condition, so no build is needed before `pnpm test`.
export default defineConfig({
  resolve: { conditions: ['@doorman/source'] },
  ssr: { resolve: { conditions: ['@doorman/source'] } },
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'doorman',
          include: [
            'packages/*/test/**/*.test.ts',
            'test/**/*.test.ts',
            'examples/*/test/**/*.test.ts',
          ],
        },
      },
      olderMajor('ioredis 5', 'ioredis', 'ioredis5', [
        'packages/redis/test/**/*.test.ts',
        'test/limiter-contract.test.ts',
      ]),
      olderMajor('prom-client 14', 'prom-client', 'prom-client14', [
        'packages/prometheus/test/**/*.test.ts',
      ]),
    ],
  },
});
