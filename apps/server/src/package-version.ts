import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The server package's version, from the nearest package.json above this file: the same file whether this runs
 * bundled (dist/main.js, dist/cli/main.js) or from the sources under test.
 */
function readPackageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (dirname(dir) === dir) throw new Error('no package.json above the server code');
  }
}

export const PACKAGE_VERSION = readPackageVersion();
