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

// Tests import the packages' TypeScript sources through the `@doorman/source`
// export condition, so no build is needed before `pnpm test`.
export default defineConfig({
  resolve: { conditions: ['@doorman/source'] },
  ssr: { resolve: { conditions: ['@doorman/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
