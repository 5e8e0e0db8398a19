import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SERVER_MAIN } from './server.js';

/** Starts the server with this environment and waits for it to exit by itself (killed after 30 s: a loaded machine starts Node slowly): code and stderr. */
export async function startExpectingExit(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [SERVER_MAIN], {
    env: {
      ...process.env,
      IPUBSUB_HTTP_PORT: String(await freePort()),
      IPUBSUB_STORE_PATH: mkdtempSync(join(tmpdir(), 'ipubsub-e2e-')),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  return { code, stderr };
}
