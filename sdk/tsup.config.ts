import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', wire: 'src/wire.ts' },
  format: ['esm', 'cjs'],
  target: 'es2022',
  platform: 'neutral',
  // The wire schemas are built with TypeBox at build time; bundling it keeps the package dependency-free.
  noExternal: ['@sinclair/typebox'],
  dts: { resolve: ['@sinclair/typebox'] },
  clean: true,
  sourcemap: true,
  treeshake: true,
});
