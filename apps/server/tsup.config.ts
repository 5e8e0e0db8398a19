import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/main.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  // Dependencies stay in node_modules; only our own code is bundled.
  skipNodeModulesBundle: true,
});
