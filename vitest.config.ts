import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores on CI: one worker per core; WebGPU (llvmpipe) uses threads of its own.
    maxWorkers: 2,
  },
});
