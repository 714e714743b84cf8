import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The tests start real git, HTTP and S3 servers; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CI also writes a JSON summary, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});
