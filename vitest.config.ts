import { defineConfig } from 'vitest/config';

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
