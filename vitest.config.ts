import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // test/<folder>/ mirrors src/<folder>/; test/system/ holds the suites across the whole package
    // (crash and durability, hostile input, several processes). See docs/ARCHITECTURE.md, "Tests".
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Native addons (mmap, flock) are loaded per worker; forks keep them isolated.
    pool: 'forks',
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
