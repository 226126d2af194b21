import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000, sequence: { groupOrder: 0 } },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Real Docker, Redis and sshd: generous limits, never timing assertions.
          testTimeout: 180_000,
          hookTimeout: 240_000,
          globalSetup: ['test/support/global-setup.ts'],
          // Two cores: containers and the engine need the other one.
          maxWorkers: 2,
          // Unit tests first: they fail fast and need no services.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
