import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', wire: 'src/wire.ts' },
  format: ['esm', 'cjs'],
  target: 'es2022',
  platform: 'neutral',
  // Only `./wire` (the server's schemas) uses TypeBox, an optional peer; the client entry imports none of it:
  // its declarations come from wire-types.generated.ts (see scripts/flatten-wire-types.mjs).
  external: ['@sinclair/typebox'],
  dts: true,
  clean: true,
  sourcemap: true,
  treeshake: true,
  // Each entry self-contained: the client bundle is one file a page can load as is (the ring's code, shared with
  // `./wire`, is inlined into both rather than split into a chunk).
  splitting: false,
});
