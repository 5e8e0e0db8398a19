import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SERVER_MAIN } from './server.js';

/**
 * Starts the server with these arguments and environment and waits for it to exit by itself: its exit code
 * (null when it had to be killed after 30 s, a generous bound for a loaded machine) and what it printed on stderr.
 */
export async function runUntilExit(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [SERVER_MAIN, ...args], {
    env: {
      ...process.env,
      IPUBSUB_HTTP_PORT: String(await freePort()),
      IPUBSUB_STORE_PATH: mkdtempSync(join(tmpdir(), 'ipubsub-e2e-')),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  return { code, stderr };
}
