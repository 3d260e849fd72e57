import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real models and a real broker: some tests take seconds, not milliseconds.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: running inference-heavy files in parallel only makes both slower.
    fileParallelism: false,
    pool: 'forks',
  },
});
