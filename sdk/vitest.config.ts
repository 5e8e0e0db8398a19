import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'sdk',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Generous: tests restart real servers, which takes long on a loaded machine.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
