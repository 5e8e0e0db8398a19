import { defineConfig } from 'vitest/config';

// One command runs every suite; each package keeps its own config beside its code.
export default defineConfig({
  test: {
    projects: ['apps/server', 'sdk', 'e2e', 'examples'],
  },
});
