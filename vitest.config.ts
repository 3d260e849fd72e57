import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Examples import the package by its name, as a user does (test/package/pack.test.ts checks the real package).
  resolve: { alias: { 'diffiqa-gate': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
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
