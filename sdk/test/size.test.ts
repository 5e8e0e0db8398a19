import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

// Raised from 3 kB when deadlines, close(), direct routing, the ring's hash and the live tail came in (docs/decisions.md).
const LIMIT_BYTES = 5 * 1024;

it(`the ESM bundle stays within ${LIMIT_BYTES} bytes minified and gzipped`, async () => {
  // Bundled from the built entry, so the chunks it shares with the `wire` entry (the ring's hash) count too.
  const { outputFiles } = await build({
    entryPoints: [new URL('../dist/index.js', import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    write: false,
  });
  const code = outputFiles[0].text;
  const gzipped = gzipSync(code, { level: 9 }).length;
  console.log(`SDK bundle: ${gzipped} bytes minified and gzipped`);
  expect(gzipped).toBeLessThanOrEqual(LIMIT_BYTES);
  // Guards against measuring an empty or broken bundle.
  expect(code).toContain('api/v1/streams/');
  expect(code).toContain('rendezvous-murmur3-32');
});
