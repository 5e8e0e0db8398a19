import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { transform } from 'esbuild';
import { expect, it } from 'vitest';

const LIMIT_BYTES = 3 * 1024;

it(`the ESM bundle stays within ${LIMIT_BYTES} bytes minified and gzipped`, async () => {
  const bundle = readFileSync(new URL('../dist/index.js', import.meta.url), 'utf8');
  const { code } = await transform(bundle, { minify: true, format: 'esm', target: 'es2022' });
  const gzipped = gzipSync(code, { level: 9 }).length;
  expect(gzipped).toBeLessThanOrEqual(LIMIT_BYTES);
  // Guards against measuring an empty or broken bundle.
  expect(code).toContain('api/v1/streams/');
});
