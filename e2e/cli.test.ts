import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueStreamId } from './support/api-helpers.js';
import { freePort, REPO_ROOT, ServerProcess } from './support/server.js';

/** The `ipubsub` bin of the server package, run as a user runs it, against a real node. */
const CLI = join(REPO_ROOT, 'apps/server/dist/cli/main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], input?: string, env: Record<string, string> = {}, command?: string): Promise<Run> {
  const child = spawn(command ?? process.execPath, command === undefined ? [CLI, ...args] : args, {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

const ndjson = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('ipubsub against a running node', () => {
  let server: ServerProcess;
  let url: string[];
  beforeAll(async () => {
    server = await ServerProcess.start();
    url = ['--url', server.url];
  });
  afterAll(() => server.stop());

  it('send prints the answer; tail prints the messages as NDJSON when piped, in order, and takes them', async () => {
    const stream = uniqueStreamId('cli');
    const sent = await run(['send', stream, '{"n":1}', '--uuid', 'first', ...url]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ messageUuid: 'first', timestamp: expect.any(String) });
    expect((await run(['send', stream, '"two"', ...url])).code).toBe(0);
    const tail = await run(['tail', stream, ...url]);
    expect(tail.code, tail.stderr).toBe(0);
    expect(ndjson(tail.stdout).map((m) => m.message)).toEqual([{ n: 1 }, 'two']);
    expect(ndjson((await run(['tail', stream, ...url])).stdout)).toEqual([]);
  });

  it('send - sends each NDJSON line of stdin, in order, and reports the count', async () => {
    const stream = uniqueStreamId('cli-bulk');
    const lines = Array.from({ length: 250 }, (_, i) => JSON.stringify({ i })).join('\n');
    const bulk = await run(['send', stream, '-', '--size', '1000', ...url], `${lines}\n\n`);
    expect(bulk.code, bulk.stderr).toBe(0);
    expect(bulk.stderr).toContain('sent 250 messages');
    const tail = await run(['tail', stream, ...url]);
    expect(ndjson(tail.stdout).map((m) => (m.message as { i: number }).i)).toEqual([...Array(250).keys()]);
  });

  it('tail --db reads stored messages without consuming them, and continues --from the token it printed', async () => {
    const stream = uniqueStreamId('cli-db');
    const stored = await run(['send', stream, '-', '--db', '--ttl', '600', ...url], '{"a":1}\n{"a":2}\n');
    expect(stored.code, stored.stderr).toBe(0);
    const first = await run(['tail', stream, '--db', ...url]);
    expect(first.code, first.stderr).toBe(0);
    expect(ndjson(first.stdout).map((m) => m.message)).toEqual([{ a: 1 }, { a: 2 }]);
    const token = /--from (\S+)/.exec(first.stderr)![1];
    expect((await run(['send', stream, '{"a":3}', '--db', ...url])).code).toBe(0);
    const next = await run(['tail', stream, '--db', '--from', token, ...url]);
    expect(ndjson(next.stdout).map((m) => m.message)).toEqual([{ a: 3 }]);
    expect(ndjson((await run(['tail', stream, '--db', ...url])).stdout)).toHaveLength(3);
  });

  it('tail --follow prints messages as they come and exits 0 on SIGINT', async () => {
    const stream = uniqueStreamId('cli-follow');
    const child = spawn(process.execPath, [CLI, 'tail', stream, '--follow', ...url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    for (let i = 0; i < 3; i++) expect((await run(['send', stream, String(i), ...url])).code).toBe(0);
    for (let attempt = 0; attempt < 400 && ndjson(stdout).length < 3; attempt++)
      await new Promise((r) => setTimeout(r, 25));
    expect(ndjson(stdout).map((m) => m.message)).toEqual([0, 1, 2]);
    const exit = once(child, 'exit');
    child.kill('SIGINT');
    expect((await exit)[0]).toBe(0);
  });

  it('on a terminal, tail prints one coloured line per message and send shows its progress', async () => {
    // util-linux `script` runs the command on a pseudo-terminal, as a person's shell would.
    const onTerminal = (command: string, input = ''): Promise<Run> =>
      run(['-c', `script -qec ${JSON.stringify(command)} /dev/null`], input, { NO_COLOR: '' }, '/bin/sh');
    const stream = uniqueStreamId('cli-tty');
    const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)}`;
    const sent = await onTerminal(`printf '1\\n2\\n' | env -u NO_COLOR ${cli} send ${stream} - --url ${server.url}`);
    expect(sent.code, sent.stdout).toBe(0);
    expect(sent.stdout).toMatch(/\rsent 2 messages .*\/s/);
    const tail = await onTerminal(`env -u NO_COLOR ${cli} tail ${stream} --url ${server.url}`);
    expect(tail.code, tail.stdout).toBe(0);
    const lines = tail.stdout.split(/\r?\n/).filter((line) => line !== '');
    expect(lines).toHaveLength(2);
    // eslint-disable-next-line no-control-regex -- the colours on a terminal are what this test checks
    expect(lines[0]).toMatch(/^\u001b\[2m\d{4}-\d\d-\d\dT[^ ]+Z\u001b\[0m \u001b\[36m[^ ]+\u001b\[0m 1$/);
    expect(lines[1]).toMatch(/ 2$/);
  });

  it('status prints a table of the members with their streams', async () => {
    await run(['send', uniqueStreamId('cli-status'), '1', ...url]);
    const status = await run(['status', ...url]);
    expect(status.code, status.stderr).toBe(0);
    const [summary, heading, row] = status.stdout.trimEnd().split('\n');
    expect(summary).toMatch(/^cluster ipubsub, ring version \d+, 1 owning streams$/);
    expect(heading.split(/\s+/)).toEqual(['NODE', 'STATE', 'RING', 'STREAMS', 'WAITING', 'BUFFERED', 'URL']);
    const cells = row.split(/\s{2,}/);
    expect(cells.slice(0, 3)).toEqual(['node-1*', 'alive', 'yes']);
    expect(Number(cells[3])).toBeGreaterThanOrEqual(1);
  });
});

describe('ipubsub exit codes', () => {
  it('0 for --help, 2 for a usage mistake, 1 when the node cannot be reached', async () => {
    const help = await run(['send', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: ipubsub send [options] <stream> [json]');
    const missing = await run(['tail']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'stream'");
    const notJson = await run(['send', 's', '{oops']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('the message is not JSON');
    const unreachable = await run(['send', 's', '1', '--url', `http://127.0.0.1:${await freePort()}`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/ECONNREFUSED/);
  });

  it('serve runs a node with --config, which stops on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'serve', '--config', join(REPO_ROOT, 'config/single-node.yaml')], {
      env: {
        ...process.env,
        IPUBSUB_HTTP_PORT: String(port),
        IPUBSUB_LOG_LEVEL: 'warn',
        IPUBSUB_STORE_PATH: join(REPO_ROOT, 'node_modules/.cache/cli-serve'),
      },
      stdio: 'ignore',
    });
    let health: Response | undefined;
    for (let attempt = 0; attempt < 600 && health?.status !== 200; attempt++) {
      health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
      if (health?.status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(health?.status).toBe(200);
    const exit = once(child, 'exit');
    child.kill('SIGTERM');
    expect((await exit)[0]).toBe(0);
  });
});
