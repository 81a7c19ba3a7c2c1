import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        // Malicious inventories through the real CLI; no lab needed (the CLI runs without a network).
        test: {
          name: 'security',
          include: ['test/security/**/*.test.ts'],
          globalSetup: ['test/security/global-setup.ts'],
          testTimeout: 60_000,
        },
      },
      // Runs after the end-to-end tests (scripts/test.sh sets HAPG_SECRET_SCAN): scans everything hapg printed in them.
      ...(process.env['HAPG_SECRET_SCAN'] ? [{ test: { name: 'secret-scan', include: ['test/secret-scan/**/*.test.ts'] } }] : []),
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          // Each file owns its hosts of the lab (see global-setup.ts): files run side by side.
          fileParallelism: true,
          maxWorkers: 3,
          // Its own group (after unit and security): vitest runs a group's projects with one worker setting.
          sequence: { groupOrder: 1 },
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
