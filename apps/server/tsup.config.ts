import { defineConfig } from 'tsup';

export default defineConfig({
  // The node, and the `ipubsub` command-line tool (the package's bin).
  entry: { main: 'src/main.ts', 'cli/main': 'src/cli/main.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  // Dependencies stay in node_modules; only our own code is bundled.
  skipNodeModulesBundle: true,
});
