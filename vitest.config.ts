import { defineConfig } from 'vitest/config';

// Tests import workspace packages through the `@edgetta/source` export condition, so they run
// against `src/*.ts` without a build step.
export default defineConfig({
  resolve: { conditions: ['@edgetta/source'] },
  ssr: { resolve: { conditions: ['@edgetta/source'] } },
  test: {
    include: ['{packages,runtime,adapters}/*/test/**/*.test.ts', '{datasets,bench}/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './vitest.summary-reporter.ts'],
  },
});
