import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['controller/test/**/*.test.ts', 'devices/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: files run two at a time; each test starts its own brokers/servers on free ports.
    maxWorkers: 2,
  },
});
