import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_MAIN, REPO_ROOT } from './support/server.js';
import type { ClusterView } from './support/cluster.js';

/**
 * A real network partition: each node runs in its own network namespace, joined to the others by veth pairs
 * on a bridge in the test's namespace (from where the test reaches every node). Cutting node 3 off adds
 * blackhole routes inside the namespaces, so the nodes lose each other while the test still sees all three.
 * Needs root and iproute2; skipped (with a message) where network namespaces cannot be made.
 */
const id = process.pid % 10_000;
const SUBNET = `10.231.${20 + (process.pid % 200)}`;
const BRIDGE = `ipsb${id}`;
const NAMES = ['node-1', 'node-2', 'node-3'];
const HTTP_PORT = 18_801;
const GOSSIP_PORT = 17_901;
const addressOf = (i: number): string => `${SUBNET}.${11 + i}`;
const namespaceOf = (i: number): string => `ipubsub-${id}-${i + 1}`;
const urlOf = (i: number): string => `http://${addressOf(i)}:${HTTP_PORT}`;

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr || result.error?.message}`);
}

/** Null when this machine lets the test build its network (namespace, veth pair, bridge), else why not. */
function canMakeNamespaces(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  const steps = [
    ['netns', 'add', `ipubsub-probe-${id}`],
    ['link', 'add', `ipvp${id}a`, 'type', 'veth', 'peer', 'name', `ipvp${id}b`],
    ['link', 'set', `ipvp${id}b`, 'netns', `ipubsub-probe-${id}`],
    ['link', 'add', `ipsp${id}`, 'type', 'bridge'],
  ];
  let problem: string | null = null;
  for (const step of steps) {
    const result = spawnSync('ip', step, { encoding: 'utf8' });
    if (result.status !== 0) {
      problem = `ip ${step.join(' ')}: ${result.stderr || result.error?.message}`;
      break;
    }
  }
  spawnSync('ip', ['link', 'del', `ipsp${id}`]);
  spawnSync('ip', ['link', 'del', `ipvp${id}a`]);
  spawnSync('ip', ['netns', 'del', `ipubsub-probe-${id}`]);
  return problem;
}

const unavailable = canMakeNamespaces();
if (unavailable !== null) process.stderr.write(`skipping the partition test: ${unavailable}\n`);

function setUpNetwork(): void {
  ip('link', 'add', BRIDGE, 'type', 'bridge');
  ip('addr', 'add', `${SUBNET}.1/24`, 'dev', BRIDGE);
  ip('link', 'set', BRIDGE, 'up');
  for (let i = 0; i < 3; i++) {
    const ns = namespaceOf(i);
    const host = `ipv${id}h${i}`;
    const peer = `ipv${id}n${i}`;
    ip('netns', 'add', ns);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
    ip('link', 'set', host, 'master', BRIDGE);
    ip('link', 'set', host, 'up');
    ip('-n', ns, 'addr', 'add', `${addressOf(i)}/24`, 'dev', peer);
    ip('-n', ns, 'link', 'set', peer, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
}

function tearDownNetwork(): void {
  for (let i = 0; i < 3; i++) {
    spawnSync('ip', ['netns', 'del', namespaceOf(i)]);
    spawnSync('ip', ['link', 'del', `ipv${id}h${i}`]);
  }
  spawnSync('ip', ['link', 'del', BRIDGE]);
}

/** Cuts node `i` off from the other two (both directions), or heals the cut. */
function cut(i: number, on: boolean): void {
  for (let j = 0; j < 3; j++) {
    if (j === i) continue;
    ip('-n', namespaceOf(j), 'route', on ? 'add' : 'del', 'blackhole', `${addressOf(i)}/32`);
    ip('-n', namespaceOf(i), 'route', on ? 'add' : 'del', 'blackhole', `${addressOf(j)}/32`);
  }
}

const stderrOf = NAMES.map(() => '');

function startNode(i: number): ChildProcess {
  const seeds = NAMES.map((_, j) => `${addressOf(j)}:${GOSSIP_PORT}`).join(',');
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      namespaceOf(i),
      process.execPath,
      SERVER_MAIN,
      '--config',
      join(REPO_ROOT, `config/multi-node-${i + 1}.yaml`),
    ],
    {
      env: {
        ...process.env,
        IPUBSUB_NODE_NAME: NAMES[i],
        IPUBSUB_HTTP_HOST: addressOf(i),
        IPUBSUB_HTTP_PORT: String(HTTP_PORT),
        IPUBSUB_CLUSTER_GOSSIP_HOST: addressOf(i),
        IPUBSUB_CLUSTER_GOSSIP_PORT: String(GOSSIP_PORT),
        IPUBSUB_CLUSTER_SEEDS: seeds,
        // The nodes listen on the test's own namespace addresses, reachable from nowhere else.
        IPUBSUB_AUTH_ALLOWANONYMOUS: 'true',
        IPUBSUB_LOG_LEVEL: 'warn',
        IPUBSUB_STORE_PATH: mkdtempSync(join(tmpdir(), 'ipubsub-e2e-')),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  // Kept for the failure message: a node that refuses to start says why on stderr.
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderrOf[i] += chunk));
  return child;
}

async function view(i: number): Promise<ClusterView> {
  return (await (
    await fetch(`${urlOf(i)}/api/v1/cluster`, { signal: AbortSignal.timeout(2_000) })
  ).json()) as ClusterView;
}

/** Waits until node i's ring is `names`; resolves with how long it took from `start`. */
async function waitForRing(
  nodes: number[],
  names: string[],
  start = performance.now(),
  timeoutMs = 20_000,
): Promise<number> {
  const want = names.join(',');
  for (;;) {
    const rings = await Promise.all(
      nodes.map((i) =>
        view(i).then(
          (v) => v.ring.join(','),
          () => 'unreachable',
        ),
      ),
    );
    if (rings.every((ring) => ring === want)) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`rings ${rings.join(' | ')} did not become ${want}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function ownerOf(streamId: string, via = 0): Promise<string> {
  return ((await (await fetch(`${urlOf(via)}/api/v1/cluster/owner?streamId=${streamId}`)).json()) as { owner: string })
    .owner;
}

async function streamOwnedBy(owner: string, label: string): Promise<string> {
  for (let i = 0; ; i++) if ((await ownerOf(`${label}-${i}`)) === owner) return `${label}-${i}`;
}

async function send(i: number, streamId: string, messageUuid: string, message: unknown): Promise<number> {
  const res = await fetch(`${urlOf(i)}/api/v1/streams/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ streamId, messageUuid, message }),
  });
  await res.text();
  return res.status;
}

async function drain(i: number, streamId: string): Promise<unknown[]> {
  const res = await fetch(`${urlOf(i)}/api/v1/streams/receive?streamId=${streamId}&timeoutSeconds=0&maxMessages=1000`);
  if (res.status === 424) return [];
  return ((await res.json()) as { messages: { message: unknown }[] }).messages.map((m) => m.message);
}

describe.skipIf(unavailable !== null)('a network partition (network namespaces)', () => {
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    tearDownNetwork();
    setUpNetwork();
    for (let i = 0; i < 3; i++) children.push(startNode(i));
    await waitForRing([0, 1, 2], NAMES, performance.now(), 60_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${stderrOf.map((text, i) => `${NAMES[i]} stderr: ${text}`).join('\n')}`);
    });
  });
  afterAll(async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }),
    );
    tearDownNetwork();
  });

  it('cut one node off, heal: both sides keep serving, no long poll stays stuck, the ring converges', async () => {
    const acrossFrom3 = await streamOwnedBy('node-1', 'cut-a');
    const acrossFrom1 = await streamOwnedBy('node-3', 'cut-b');
    const idle = await streamOwnedBy('node-1', 'cut-idle');
    await send(0, acrossFrom3, 'before', 'before');

    // Long polls forwarded across the link about to be cut, each way.
    const polls = [
      fetch(`${urlOf(2)}/api/v1/streams/receive?streamId=${idle}&timeoutSeconds=25`),
      fetch(`${urlOf(0)}/api/v1/streams/receive?streamId=${acrossFrom1}&timeoutSeconds=25`),
    ].map((poll) => poll.then(async (res) => [res.status, await res.text()] as const));

    cut(2, true);
    const splitMs = await waitForRing([0, 1], ['node-1', 'node-2']);
    await waitForRing([2], ['node-3']);
    console.log(`partition noticed by both sides after ${Math.round(splitMs)} ms`);

    // The poll from node 1 whose owner (node 3) vanished is re-routed to the stream's new owner on its side:
    // a send there wakes it (at the end of its 25 s it would have answered 424).
    expect(await send(1, acrossFrom1, 'during-1', 'majority')).toBe(200);
    const [status, body] = await polls[1];
    expect(status, body).toBe(200);
    expect((JSON.parse(body) as { message: unknown }).message).toBe('majority');

    // Each side serves every stream on its own meanwhile.
    expect(await send(2, acrossFrom3, 'during-3', 'minority')).toBe(200);
    expect(await send(0, acrossFrom3, 'during-1b', 'majority')).toBe(200);

    const healed = performance.now();
    cut(2, false);
    // The merge's speed is a property of the protocol, bounded in simulated time by swim.test.ts.
    const mergeMs = await waitForRing([0, 1, 2], NAMES, healed);
    console.log(`ring converged ${Math.round(mergeMs)} ms after the partition healed`);

    // Nothing sent on either side is lost: the owner's own messages first, the other side's behind them.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const merged = await drain(1, acrossFrom3);
    expect([...merged].sort()).toEqual(['before', 'majority', 'minority'].sort());
    expect(merged.indexOf('before')).toBeLessThan(merged.indexOf('majority'));

    // And the poll on the minority side ended by its own timeout at the latest, not stuck on a dead link: a 424
    // answer, long before the test's 60 s timeout would have ended a poll that hangs.
    const [strandedStatus, strandedBody] = await polls[0];
    expect(strandedStatus, strandedBody).toBe(424);
  });
});
