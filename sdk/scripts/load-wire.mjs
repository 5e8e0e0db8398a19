import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** src/wire.ts, the one source of the wire format. */
export const WIRE = fileURLToPath(new URL('../src/wire.ts', import.meta.url));

/** The wire module as the server sees it at run time (its schemas with their annotations), straight from the source. */
export async function loadWire() {
  const { outputFiles } = await build({
    entryPoints: [WIRE],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
  });
  return import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].text).toString('base64')}`);
}
