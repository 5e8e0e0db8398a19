import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitForWaiters } from './support/api-helpers.js';
import { runUntilExit } from './support/exit.js';
import { REPO_ROOT, ServerProcess } from './support/server.js';

/** The built server refuses to start on a bad configuration, naming the key, and honours env overrides. */

const dir = mkdtempSync(join(tmpdir(), 'ipubsub-e2e-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function yamlFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

// Each case starts a process that must exit by itself; finer cases are unit tests in apps/server/src/config.
describe('a bad configuration stops the process with a non-zero exit and names the key', () => {
  it('a wrong type in the YAML file', async () => {
    const file = yamlFile('bad-type.yaml', 'limits:\n  maxStreams: eighty\n');
    const { code, stderr } = await runUntilExit(['--config', file], {});
    expect(code).not.toBe(0);
    expect(code).not.toBeNull(); // exited by itself, not killed
    expect(stderr).toContain('limits.maxStreams');
    expect(stderr).toContain(file);
  });

  it('an unknown key in the YAML file', async () => {
    const { code, stderr } = await runUntilExit(
      ['--config', yamlFile('unknown.yaml', 'limits:\n  maxWaiters: 5\n')],
      {},
    );
    expect(code).not.toBe(0);
    expect(stderr).toContain('limits.maxWaiters');
  });

  it('a bad value from an environment variable, naming the variable', async () => {
    const { code, stderr } = await runUntilExit(['--config', join(REPO_ROOT, 'config/single-node.yaml')], {
      IPUBSUB_LIMITS_MAXWAITERSPERSTREAM: 'lots',
    });
    expect(code).not.toBe(0);
    expect(stderr).toContain('limits.maxWaitersPerStream');
    expect(stderr).toContain('IPUBSUB_LIMITS_MAXWAITERSPERSTREAM');
  });

  it('a cluster member on the embedded SQLite store without store.allowNodeLocalInCluster', async () => {
    // The shipped cluster config with its opt-in turned off by the environment.
    const { code, stderr } = await runUntilExit(['--config', join(REPO_ROOT, 'config/multi-node-1.yaml')], {
      IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'false',
    });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    for (const expected of ['PostgreSQL', 'MySQL/MariaDB', 'Cassandra', 'store.allowNodeLocalInCluster: true'])
      expect(stderr).toContain(expected);
  });

  it('a config file that does not exist', async () => {
    const missing = join(dir, 'missing.yaml');
    const { code, stderr } = await runUntilExit(['--config', missing], {});
    expect(code).not.toBe(0);
    expect(stderr).toContain(missing);
  });
});

describe('a good configuration', () => {
  it('YAML values apply, environment variables override them, unset keys keep their defaults', async () => {
    const file = yamlFile('good.yaml', 'limits:\n  maxTimeoutSeconds: 7\n  maxWaitersPerStream: 50\n');
    const server = await ServerProcess.start({
      env: { IPUBSUB_CONFIG: file, IPUBSUB_LIMITS_MAXWAITERSPERSTREAM: '1' },
    });
    try {
      // From the file (read through IPUBSUB_CONFIG): timeoutSeconds 8 is over the maximum of 7.
      expect((await server.receive({ streamId: 'c', timeoutSeconds: 8 })).status).toBe(400);
      // From the environment: one waiter per stream, not 50.
      const waiting = server.receive({ streamId: 'c', timeoutSeconds: 7 });
      await waitForWaiters(server, 1);
      expect((await server.receive({ streamId: 'c', timeoutSeconds: 1 })).status).toBe(429);
      expect((await server.send({ streamId: 'c', messageUuid: 'm', message: 1 })).status).toBe(200);
      expect((await waiting).status).toBe(200);
      // No http.corsOrigins anywhere: CORS is off.
      const preflight = await fetch(`${server.url}/api/v1/streams/send`, {
        method: 'OPTIONS',
        headers: { origin: 'http://allowed.example', 'access-control-request-method': 'POST' },
      });
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await server.stop();
    }
  });
});
