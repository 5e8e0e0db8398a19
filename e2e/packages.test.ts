import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT } from './support/server.js';

/** The two publishable packages as npm would publish them, and the server runnable by its bin from the tarball. */

const run = promisify(execFile);
const SDK = join(REPO_ROOT, 'sdk');
const SERVER = join(REPO_ROOT, 'apps/server');

async function packedFiles(dir: string): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir });
  return (JSON.parse(stdout) as { files: { path: string }[] }[])[0].files.map((file) => file.path).sort();
}

function manifest(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
}

describe.each([
  ['@ipubsub/sdk', SDK, ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/wire.js']],
  ['@ipubsub/server', SERVER, ['dist/main.js', 'dist/cli/main.js']],
])('%s', (name, dir, entries) => {
  it('npm pack --dry-run holds the build, README, LICENSE and package.json, and no sources or tests', async () => {
    const files = await packedFiles(dir);
    expect(files).toEqual(expect.arrayContaining([...entries, 'LICENSE', 'README.md', 'package.json']));
    expect(files.filter((file) => /^src\/|\.test\./.test(file))).toEqual([]);
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toContain('Apache License');
  });

  it('has the metadata a registry shows: license, repository, homepage, bugs, keywords, public provenance', () => {
    const pkg = manifest(dir);
    expect(pkg).toMatchObject({
      name,
      license: 'Apache-2.0',
      repository: { type: 'git', directory: dir.slice(REPO_ROOT.length + 1) },
      bugs: { url: expect.stringMatching(/^https:\/\//) },
      homepage: expect.stringMatching(/^https:\/\//),
      publishConfig: { access: 'public', provenance: true },
      // The majors CI runs (20, 22 and 24: scripts/node-versions.sh); newer ones are not refused.
      engines: { node: expect.stringMatching(/^\^20\.\d+\.\d+ \|\| \^22\.\d+\.\d+ \|\| >=24\.\d+\.\d+$/) },
    });
    expect(pkg.private).toBeUndefined();
    expect((pkg.keywords as string[]).length).toBeGreaterThan(3);
  });
});

describe('the server packed by pnpm (as Changesets publishes it)', () => {
  const work = mkdtempSync(join(tmpdir(), 'ipubsub-server-pack-'));
  // Unpacked inside the server package, so its dependencies resolve from the workspace's install.
  const unpacked = join(SERVER, 'node_modules/.cache/packed');
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(unpacked, { recursive: true, force: true });
  });

  it('names the SDK by version, and runs as the ipubsub bin: --version and serve', async () => {
    await run('npx', ['--yes', 'pnpm@10.34.8', 'pack', '--pack-destination', work], { cwd: SERVER });
    const version = manifest(SERVER).version as string;
    rmSync(unpacked, { recursive: true, force: true });
    mkdirSync(unpacked, { recursive: true });
    await run('tar', ['-xzf', join(work, `ipubsub-server-${version}.tgz`), '-C', unpacked]);
    const pkg = manifest(join(unpacked, 'package'));
    expect((pkg.dependencies as Record<string, string>)['@ipubsub/sdk']).toBe(manifest(SDK).version);
    const bin = join(unpacked, 'package', (pkg.bin as Record<string, string>).ipubsub);
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);

    expect((await run(process.execPath, [bin, '--version'])).stdout.trim()).toBe(version);
    const port = await freePort();
    const node = spawn(process.execPath, [bin, 'serve'], {
      env: { ...process.env, IPUBSUB_HTTP_PORT: String(port), IPUBSUB_LOG_LEVEL: 'warn', IPUBSUB_STORE_PATH: work },
      stdio: 'ignore',
    });
    let status: number | undefined;
    for (let attempt = 0; attempt < 600 && status !== 200; attempt++) {
      status = (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
    const exit = once(node, 'exit');
    node.kill('SIGTERM');
    expect((await exit)[0]).toBe(0);
  });
});
